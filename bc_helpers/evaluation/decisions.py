"""Decisions: a threshold chosen on validation data (never on test data), and a 'refer for review' band."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from ..errors import WorkbookError

THRESHOLD_METHODS = ("youden", "sensitivity", "fixed")
# A threshold fitted on validation data is trusted only when each class comes from at least this many
# patients, each with at least MIN_IMAGES_PER_PATIENT images of it: with fewer, it mostly fits those patients.
MIN_PATIENTS_PER_CLASS = 4
MIN_IMAGES_PER_PATIENT = 3


@dataclass(frozen=True)
class ThresholdChoice:
    """A decision threshold, the rule that gave it ("youden", "sensitivity", "fixed", "share" or "prior"), and
    why."""

    threshold: float
    rule: str
    reason: str


def youden_threshold(y_true: np.ndarray, prob: np.ndarray) -> float:
    """The threshold that maximises sensitivity + specificity - 1 (Youden's J) on the given (validation) data."""
    fpr, tpr, thresholds = roc_curve(y_true, prob)
    best = int(np.argmax(tpr - fpr))
    return float(min(thresholds[best], 1.0))


def sensitivity_threshold(y_true: np.ndarray, prob: np.ndarray, target: float = 0.95) -> float:
    """The highest threshold whose sensitivity still reaches `target`: the most specific such operating point.
    Every distinct score is a candidate (drop_intermediate=False): the default drops points of the curve, and the
    first point left that reaches the target can lie below the highest threshold that does."""
    fpr, tpr, thresholds = roc_curve(y_true, prob, drop_intermediate=False)
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


def patients_per_class(y_true: np.ndarray, patients: np.ndarray,
                       min_images: int = MIN_IMAGES_PER_PATIENT) -> dict[int, int]:
    """For each class, how many patients hold at least `min_images` images of it."""
    frame = pd.DataFrame({"label": np.asarray(y_true).astype(int), "patient": np.asarray(patients).astype(str)})
    counts = frame.groupby(["label", "patient"]).size()
    return {c: int((counts.get(c, pd.Series(dtype=int)) >= min_images).sum()) for c in (0, 1)}


def decide_threshold(y_true: np.ndarray, prob: np.ndarray, patients: np.ndarray, method: str = "youden",
                     target: float = 0.95, prior: float = 0.5,
                     min_patients: int = MIN_PATIENTS_PER_CLASS) -> ThresholdChoice:
    """`method` on the validation data when it can be trusted. Not trusted: fewer than `min_patients` patients per
    class, or a validation ROC-AUC no better than chance. Then, if validation holds both classes, the "share"
    rule: the threshold that calls positive the same share of validation images as are positive, a quantile of
    the probabilities that uses no image's label, only the share, so a few patients cannot pull it to an extreme.
    It needs no calibration: a model trained for a few epochs ranks images before its probabilities settle
    around 0.5. Without both classes, the training prior of the positive class (0.5 after balancing), the
    threshold that maximises balanced accuracy for a calibrated model."""
    y_true, prob = np.asarray(y_true).astype(int), np.asarray(prob, dtype=float)
    if method == "fixed":
        return ThresholdChoice(0.5, "fixed", "fixed at 0.5 by request")
    per_class = patients_per_class(y_true, patients)
    if min(per_class.values()) < min_patients:
        reason = (f"validation holds {per_class[0]} negative and {per_class[1]} positive patients "
                  f"(at least {min_patients} each needed)")
    elif roc_auc_score(y_true, prob) <= 0.5:
        reason = f"validation ROC-AUC {roc_auc_score(y_true, prob):.3f} is no better than chance"
    else:
        return ThresholdChoice(choose_threshold(y_true, prob, method, target), method,
                               f"{method} on {len(np.unique(patients))} validation patients")
    if len(np.unique(y_true)) == 2:
        share = float(y_true.mean())
        return ThresholdChoice(float(np.quantile(prob, 1 - share)), "share",
                               f"{reason}: the threshold calls {share:.1%} of the {len(y_true)} validation images "
                               "positive, as many as are")
    return ThresholdChoice(float(prior), "prior", f"{reason}: the training prior {prior:.3f} is used")


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
