"""Metrics on scikit-learn: per-class sensitivity and specificity, the paper's "AUC" under its real name
(balanced accuracy), ROC-AUC and PR-AUC from probabilities, patient-level results, and bootstrap
intervals resampled by patient."""

from __future__ import annotations

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


def reliability_table(y_true: np.ndarray, prob: np.ndarray, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Reliability-diagram data: per equal-width probability bin, its edges, the number of images, their mean
    predicted probability and the observed frequency of the positive class (NaN in an empty bin)."""
    y_true, prob = np.asarray(y_true, dtype=float), np.asarray(prob, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.floor(prob * bins).astype(int), 0, bins - 1)  # bin k holds [k/bins, (k+1)/bins)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.bincount(which, prob, bins) / count
        observed = np.bincount(which, y_true, bins) / count
    return pd.DataFrame({"lower": edges[:-1], "upper": edges[1:], "count": count,
                         "mean_predicted": mean_predicted, "observed_frequency": observed})


def expected_calibration_error(y_true: np.ndarray, prob: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """ECE: the mean over equal-width bins of |observed frequency - mean predicted|, weighted by bin size."""
    table = reliability_table(y_true, prob, bins)
    filled = table[table["count"] > 0]
    gap = (filled["observed_frequency"] - filled["mean_predicted"]).abs()
    return float((gap * filled["count"]).sum() / max(int(filled["count"].sum()), 1))


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


def patient_metrics(y_true: np.ndarray, prob: np.ndarray, patients: np.ndarray, threshold: float = 0.5) -> dict:
    """Probabilities averaged per patient, against the patient's majority label."""
    table = patient_table(y_true, prob, patients)
    result = binary_metrics(table["label"].to_numpy(), table["mean_prob"].to_numpy(), threshold)
    result["n_patients"] = int(len(table))
    result["positive_share_mae"] = float((table["mean_prob"] - table["positive_share"]).abs().mean())
    return result


def bootstrap_ci(
    y_true: np.ndarray, prob: np.ndarray, patients: np.ndarray, threshold: float = 0.5,
    n_boot: int = 500, seed: int = 0, level: float = 0.95,
) -> dict[str, list[float]]:
    """Percentile intervals, resampling whole patients with replacement (images of a patient are not independent)."""
    y_true, prob = np.asarray(y_true).astype(int), np.asarray(prob, dtype=float)
    groups = pd.Series(np.arange(len(y_true))).groupby(np.asarray(patients).astype(str)).apply(np.array).tolist()
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {m: [] for m in CI_METRICS}
    for _ in range(n_boot):
        rows = np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))])
        if len(np.unique(y_true[rows])) < 2:
            continue
        m = binary_metrics(y_true[rows], prob[rows], threshold)
        for name in CI_METRICS:
            draws[name].append(m[name])
    alpha = (1 - level) / 2
    return {name: [float(np.quantile(v, alpha)), float(np.quantile(v, 1 - alpha))] if v else [float("nan")] * 2
            for name, v in draws.items()}


def test_report(y_true: np.ndarray, prob: np.ndarray, patients: np.ndarray, threshold: float, seed: int = 0) -> dict:
    """Everything reported for a test set: image-level metrics, patients, bootstrap intervals, patient level."""
    return binary_metrics(y_true, prob, threshold) | {
        "n_patients": int(len(np.unique(patients))),
        "ci": bootstrap_ci(y_true, prob, patients, threshold, seed=seed),
        "patient_level": patient_metrics(y_true, prob, patients, threshold),
    }
