"""Decisions: a threshold chosen on validation data (never on test data), and a 'refer for review' band."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from .errors import WorkbookError

THRESHOLD_METHODS = ("youden", "sensitivity", "fixed")


def youden_threshold(y_true: np.ndarray, prob: np.ndarray) -> float:
    """The threshold that maximises sensitivity + specificity - 1 (Youden's J) on the given (validation) data."""
    fpr, tpr, thresholds = roc_curve(y_true, prob)
    best = int(np.argmax(tpr - fpr))
    return float(min(thresholds[best], 1.0))


def sensitivity_threshold(y_true: np.ndarray, prob: np.ndarray, target: float = 0.95) -> float:
    """The highest threshold whose sensitivity still reaches `target`: the most specific such operating point."""
    fpr, tpr, thresholds = roc_curve(y_true, prob)
    reaching = np.flatnonzero(tpr >= target)
    return float(min(thresholds[reaching[0]], 1.0))


def choose_threshold(y_true: np.ndarray, prob: np.ndarray, method: str = "youden", target: float = 0.95) -> float:
    """Pick the decision threshold on validation data by `method` (youden, sensitivity, or fixed 0.5)."""
    if method == "fixed" or len(np.unique(y_true)) < 2:
        return 0.5
    if method == "youden":
        return youden_threshold(y_true, prob)
    if method == "sensitivity":
        return sensitivity_threshold(y_true, prob, target)
    raise WorkbookError(f"unknown threshold method {method!r}: choose one of {', '.join(THRESHOLD_METHODS)}")


def review_flags(prob: np.ndarray, threshold: float, width: float) -> np.ndarray:
    """True where the probability lies within `width` of the threshold: too close to call, refer to a pathologist."""
    return np.abs(np.asarray(prob) - threshold) < width


def coverage_table(y_true: np.ndarray, prob: np.ndarray, threshold: float,
                   widths: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3)) -> pd.DataFrame:
    """For each band width: the share decided automatically (coverage) and the accuracy on that share."""
    y_true, prob = np.asarray(y_true).astype(int), np.asarray(prob)
    rows = []
    for width in widths:
        keep = ~review_flags(prob, threshold, width)
        correct = (prob[keep] >= threshold).astype(int) == y_true[keep]
        rows.append({"width": width, "coverage": float(keep.mean()),
                     "accuracy_on_decided": float(correct.mean()) if keep.any() else float("nan"),
                     "referred": int((~keep).sum())})
    return pd.DataFrame(rows)
