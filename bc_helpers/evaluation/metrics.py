"""Metrics on scikit-learn: per-class sensitivity and specificity, the paper's "AUC" under its real name
(balanced accuracy), ROC-AUC and PR-AUC from probabilities, patient-level results, and bootstrap
intervals resampled by patient."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
)

CI_METRICS = ("accuracy", "sensitivity", "specificity", "balanced_accuracy", "f1", "roc_auc")
CALIBRATION_BINS = 10
MIN_BOOTSTRAP_PATIENTS = 10  # fewer test patients: the bootstrap warns
PATIENT_LABEL_METRICS = ("accuracy", "sensitivity", "specificity", "precision", "f1", "balanced_accuracy", "roc_auc",
                         "pr_auc", "brier", "ece")


def _calibration_bins(y_true: np.ndarray, prob: np.ndarray, bins: int) -> tuple[np.ndarray, ...]:
    """Per equal-width bin k = [k/bins, (k+1)/bins) (1.0 in the last): count, sum of probabilities, positives."""
    y_true, prob = np.asarray(y_true, dtype=float), np.asarray(prob, dtype=float)
    which = np.clip(np.floor(prob * bins).astype(int), 0, bins - 1)
    return (np.bincount(which, minlength=bins), np.bincount(which, prob, bins), np.bincount(which, y_true, bins))


def reliability_table(y_true: np.ndarray, prob: np.ndarray, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Reliability-diagram data: per equal-width probability bin, its edges, the number of images, their mean
    predicted probability and the observed frequency of the positive class (NaN in an empty bin)."""
    count, prob_sum, positives = _calibration_bins(y_true, prob, bins)
    edges = np.linspace(0.0, 1.0, bins + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"lower": edges[:-1], "upper": edges[1:], "count": count,
                             "mean_predicted": prob_sum / count, "observed_frequency": positives / count})


def expected_calibration_error(y_true: np.ndarray, prob: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """ECE: the mean over equal-width bins of |observed frequency - mean predicted|, weighted by bin size,
    i.e. sum over bins of |positives - sum of probabilities| / images."""
    count, prob_sum, positives = _calibration_bins(y_true, prob, bins)
    return float(np.abs(positives - prob_sum).sum() / max(int(count.sum()), 1))


def binary_metrics(y_true: np.ndarray, prob: np.ndarray, threshold: float = 0.5) -> dict:
    """Image-level metrics; positive = IDC / malignant (label 1). `brier` (mean squared error of the
    probability) and `ece` (expected calibration error, 10 equal-width bins) say how far the probabilities
    can be read as frequencies: balancing and class weights shift them."""
    y_true = np.asarray(y_true).astype(int)
    prob = np.asarray(prob, dtype=float)
    y_pred = (prob >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    both = len(np.unique(y_true)) == 2
    wp, wr, wf, _ = precision_recall_fscore_support(y_true, y_pred, average="weighted", zero_division=0)
    return {
        "n_images": int(len(y_true)),
        "threshold": float(threshold),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "sensitivity": float(recall_score(y_true, y_pred, pos_label=1, zero_division=0)),
        "specificity": float(recall_score(y_true, y_pred, pos_label=0, zero_division=0)),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)) if both else float("nan"),
        "roc_auc": float(roc_auc_score(y_true, prob)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y_true, prob)) if both else float("nan"),
        "brier": float(brier_score_loss(y_true, prob, pos_label=1)) if len(y_true) else float("nan"),
        "ece": expected_calibration_error(y_true, prob),
        "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
        # Support-weighted averages: weighted recall equals accuracy, which is why the paper's
        # accuracy, "sensitivity" and "specificity" columns are identical.
        "weighted": {"precision": float(wp), "recall": float(wr), "f1": float(wf)},
    }


def patient_table(y_true: np.ndarray, prob: np.ndarray, patients: np.ndarray) -> pd.DataFrame:
    """One row per patient: images, share of positive images, mean probability, and a majority label."""
    frame = pd.DataFrame({"patient": np.asarray(patients).astype(str), "label": y_true, "prob": prob})
    out = frame.groupby("patient").agg(images=("label", "size"), positive_share=("label", "mean"),
                                       mean_prob=("prob", "mean"))
    out["label"] = (out["positive_share"] >= 0.5).astype(int)
    return out.reset_index()


def patient_metrics(y_true: np.ndarray, prob: np.ndarray, patients: np.ndarray, threshold: float = 0.5,
                    labels: bool | None = None) -> dict:
    """Patient level: probabilities averaged per patient.

    `positive_share_mae`: mean over patients of |mean probability - share of positive images|, the error in
    how much of a patient is positive; meaningful everywhere, and the patient-level figure for IDC, where a
    patient has IDC and healthy tissue alike. The label metrics (accuracy, ROC-AUC, ...) against the
    patient's label are computed only where a patient has one label (BreaKHis: benign or malignant); else they
    are NaN and `label_metrics` is False. labels=None decides from the data: every patient single-label."""
    table = patient_table(y_true, prob, patients)
    single = bool(table["positive_share"].isin([0.0, 1.0]).all())
    labels = single if labels is None else labels
    result = {"n_patients": int(len(table)), "threshold": float(threshold), "label_metrics": labels,
              "positive_share_mae": float((table["mean_prob"] - table["positive_share"]).abs().mean())}
    if labels:
        by_patient = binary_metrics(table["label"].to_numpy(), table["mean_prob"].to_numpy(), threshold)
        return by_patient | result | {"n_images": int(len(y_true))}
    return result | {name: float("nan") for name in PATIENT_LABEL_METRICS} | {"n_images": int(len(y_true))}


class DrawScorer:
    """CI_METRICS of one test set under per-image weights: a bootstrap draw, coded as how often each image's
    patient was drawn, scores exactly as the resampled set would, without copying it. numpy alone: a draw costs
    microseconds, where scikit-learn's input checks cost milliseconds per metric and draw."""

    def __init__(self, y: np.ndarray, prob: np.ndarray, threshold: float) -> None:
        self.y = np.asarray(y).astype(int)
        self.predicted = (np.asarray(prob) >= threshold).astype(int)
        self.values, self.inverse = np.unique(np.asarray(prob, dtype=float), return_inverse=True)

    def scores(self, w: np.ndarray) -> dict[str, float]:
        """The metrics with image i counted w[i] times (NaN for all when a class has no weight). ROC-AUC is the
        Mann-Whitney statistic with ties counted a half, which is what roc_auc_score computes."""
        pos, neg = w * self.y, w * (1 - self.y)
        w_pos, w_neg = pos.sum(), neg.sum()
        if w_pos == 0 or w_neg == 0:
            return {name: float("nan") for name in CI_METRICS}
        pos_at = np.bincount(self.inverse, pos, len(self.values))
        neg_at = np.bincount(self.inverse, neg, len(self.values))
        below = np.cumsum(neg_at) - neg_at
        tp, tn = (pos * self.predicted).sum(), (neg * (1 - self.predicted)).sum()
        fp, fn = w_neg - tn, w_pos - tp
        sens, spec = tp / w_pos, tn / w_neg
        return {"accuracy": float((tp + tn) / (w_pos + w_neg)), "sensitivity": float(sens),
                "specificity": float(spec), "balanced_accuracy": float((sens + spec) / 2),
                "f1": float(2 * tp / (2 * tp + fp + fn)) if tp else 0.0,
                "roc_auc": float((pos_at * (below + 0.5 * neg_at)).sum() / (w_pos * w_neg))}


def bootstrap(
    y_true: np.ndarray, prob: np.ndarray, patients: np.ndarray, threshold: float = 0.5,
    n_boot: int = 500, seed: int = 0, level: float = 0.95,
) -> tuple[dict[str, list[float]], dict]:
    """Percentile intervals, resampling whole patients with replacement (images of a patient are not
    independent), and what the draws were: how many were dropped for holding one class, how many distinct
    resamples there were (of C(2k-1, k) possible for k patients). Under 10 patients it warns: the interval
    then rests on few distinct resamples."""
    names, codes = np.unique(np.asarray(patients).astype(str), return_inverse=True)
    scorer, k = DrawScorer(y_true, prob, threshold), len(names)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {m: [] for m in CI_METRICS}
    seen, dropped = set(), 0
    for _ in range(n_boot):
        picked = rng.integers(0, k, k)
        seen.add(tuple(np.sort(picked)))
        m = scorer.scores(np.bincount(picked, minlength=k)[codes].astype(float))
        if np.isnan(m["roc_auc"]):
            dropped += 1
            continue
        for name in CI_METRICS:
            draws[name].append(m[name])
    alpha = (1 - level) / 2
    ci = {name: [float(np.quantile(v, alpha)), float(np.quantile(v, 1 - alpha))] if v else [float("nan")] * 2
          for name, v in draws.items()}
    info = {"n_boot": n_boot, "dropped_one_class": dropped, "n_patients": k, "distinct_resamples": len(seen),
            "possible_resamples": math.comb(2 * k - 1, k) if k else 0, "level": level}
    if k < MIN_BOOTSTRAP_PATIENTS:
        info["warning"] = (f"only {k} test patients: {len(seen)} distinct resamples, {dropped} of {n_boot} draws "
                           "dropped for holding one class; the interval is rough")
        warnings.warn(info["warning"], stacklevel=2)
    return ci, info


def bootstrap_ci(
    y_true: np.ndarray, prob: np.ndarray, patients: np.ndarray, threshold: float = 0.5,
    n_boot: int = 500, seed: int = 0, level: float = 0.95,
) -> dict[str, list[float]]:
    """The intervals of `bootstrap` alone."""
    return bootstrap(y_true, prob, patients, threshold, n_boot, seed, level)[0]


def evaluation_report(y_true: np.ndarray, prob: np.ndarray, patients: np.ndarray, threshold: float, seed: int = 0,
                patient_labels: bool | None = None) -> dict:
    """Everything reported for a test set: image-level metrics, patients, bootstrap intervals (`ci`) and what
    the draws were (`bootstrap`), patient level (see patient_metrics for `patient_labels`)."""
    ci, info = bootstrap(y_true, prob, patients, threshold, seed=seed)
    return binary_metrics(y_true, prob, threshold) | {
        "n_patients": int(len(np.unique(patients))),
        "ci": ci,
        "bootstrap": info,
        "patient_level": patient_metrics(y_true, prob, patients, threshold, patient_labels),
    }
