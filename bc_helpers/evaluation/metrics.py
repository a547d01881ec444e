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

from .resampling import PatientDraws, decidable, percentile_interval

CI_METRICS = ("accuracy", "sensitivity", "specificity", "balanced_accuracy", "f1", "roc_auc")
CALIBRATION_BINS = 10
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


class PatientScorer:
    """CI_METRICS of one test set for many bootstrap draws at once. A draw is a row of counts over patients
    (resampling.PatientDraws); every metric is a sum over the drawn patients' images, so each patient is
    summarised once: its positives, negatives, true positives and true negatives, and for ROC-AUC the
    Mann-Whitney count of each patient's positives against each patient's negatives (ties count a half, as in
    roc_auc_score). A draw then costs a few matrix products, whatever the number of images: that is what makes
    coverage simulations of thousands of replicates run in seconds."""

    def __init__(self, y: np.ndarray, prob: np.ndarray, predicted: np.ndarray, codes: np.ndarray, k: int) -> None:
        y = np.asarray(y).astype(int)
        hit = np.asarray(predicted).astype(int) == y
        codes = np.asarray(codes)
        self.pos, self.neg = (np.bincount(codes, (y == c).astype(float), k) for c in (1, 0))
        self.tp, self.tn = (np.bincount(codes, ((y == c) & hit).astype(float), k) for c in (1, 0))
        values, inverse = np.unique(np.asarray(prob, dtype=float), return_inverse=True)
        pos_at, neg_at = np.zeros((k, len(values))), np.zeros((k, len(values)))
        np.add.at(pos_at, (codes[y == 1], inverse[y == 1]), 1.0)
        np.add.at(neg_at, (codes[y == 0], inverse[y == 0]), 1.0)
        below = np.cumsum(neg_at, axis=1) - 0.5 * neg_at  # negatives of each patient under each value
        self.pairs = pos_at @ below.T  # [p, q]: pairs (positive of p, negative of q) ranked right

    @classmethod
    def of(cls, y: np.ndarray, prob: np.ndarray, threshold: float | np.ndarray, patients: np.ndarray,
           names: np.ndarray) -> PatientScorer:
        """A test set with per-patient names among `names` (sorted); `threshold` a number or one per image."""
        prob = np.asarray(prob, dtype=float)
        return cls(y, prob, prob >= np.asarray(threshold), np.searchsorted(names, np.asarray(patients).astype(str)),
                   len(names))

    def scores(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        """The metrics of each draw (a row of `counts`, one column per patient; one row for the point
        estimate is np.ones((1, k))). NaN in a draw that leaves a class without images."""
        c = np.atleast_2d(np.asarray(counts, dtype=float))
        w_pos, w_neg, tp, tn = c @ self.pos, c @ self.neg, c @ self.tp, c @ self.tn
        ok = (w_pos > 0) & (w_neg > 0)
        w_pos, w_neg = np.where(ok, w_pos, np.nan), np.where(ok, w_neg, np.nan)
        sens, spec = tp / w_pos, tn / w_neg
        fp, fn = w_neg - tn, w_pos - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(tp > 0, 2 * tp / (2 * tp + fp + fn), np.where(ok, 0.0, np.nan))
        return {"accuracy": (tp + tn) / (w_pos + w_neg), "sensitivity": sens, "specificity": spec,
                "balanced_accuracy": (sens + spec) / 2, "f1": f1,
                "roc_auc": ((c @ self.pairs) * c).sum(axis=1) / (w_pos * w_neg)}


def bootstrap(
    y_true: np.ndarray, prob: np.ndarray, patients: np.ndarray, threshold: float = 0.5,
    n_boot: int = 500, seed: int = 0, level: float = 0.95,
) -> tuple[dict[str, list[float]], dict]:
    """Percentile intervals, resampling whole patients with replacement (images of a patient are not
    independent; resampling.PatientDraws) and expanded for few patients (resampling.percentile_interval), and
    what the draws were: how many distinct resamples there were, of how many possible. A test set too small
    for a verdict (resampling.decidable) warns: its interval rests on few distinct resamples and misses more
    often than it says."""
    draws = PatientDraws.of(y_true, patients)
    counts = draws.counts(n_boot, seed)
    scored = PatientScorer.of(y_true, prob, threshold, patients, draws.names).scores(counts)
    ci = {name: percentile_interval(scored[name], level, len(draws.names)) for name in CI_METRICS}
    ok, reason = decidable(y_true, patients)
    info = {"n_boot": n_boot, "dropped_one_class": int(np.isnan(scored["roc_auc"]).sum()),
            "n_patients": len(draws.names), "distinct_resamples": len(np.unique(counts, axis=0)),
            "possible_resamples": math.comb(2 * len(draws.names) - 1, len(draws.names)),
            "level": level, "interval": "expanded percentile (Hesterberg 2015)", "decidable": ok, "reason": reason}
    if not ok:
        message = f"{reason}: the interval rests on {info['distinct_resamples']} distinct resamples"
        info["warning"] = message
        warnings.warn(message, stacklevel=2)
    return ci, info


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
