"""Decisions: a threshold chosen on validation data (never on test data), and a 'refer for review' band."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from ..errors import WorkbookError
from ..runs.config import THRESHOLD_METHODS

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
    enough = (frame.groupby(["label", "patient"]).size() >= min_images).groupby(level="label").sum()
    return {c: int(n) for c, n in zip((0, 1), enough.reindex([0, 1], fill_value=0).tolist(), strict=True)}


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


@dataclass(frozen=True)
class ReviewBand:
    """Which images go to a pathologist: those with `low` <= p < `threshold` or `threshold` <= p <= `high`.

    The band is not a fixed distance |p - threshold| < w. A fixed distance refers different shares on the two
    sides, and when the threshold sits near 1 (0.825 after balancing, say) it refers every p above it, the most
    confident positives among them. Instead each side gives up its own `share` of images nearest the threshold
    (by rank, so the edges are probabilities of the reference images). Each predicted class then keeps the same
    fraction 1 - share, so accuracy on the decided images is a fixed-weight mean of two accuracies that each rise
    as their least certain images leave: it does not fall as coverage falls, whenever a higher probability means
    a likelier positive on each side. A NaN edge refers nothing on that side; equal probabilities share a fate."""

    threshold: float
    share: float
    low: float
    high: float

    def refers(self, prob: np.ndarray) -> np.ndarray:
        """True where an image with this probability is referred (works for new images: the edges are fixed)."""
        p = np.asarray(prob, dtype=float)
        return ((p >= self.low) & (p < self.threshold)) | ((p >= self.threshold) & (p <= self.high))


def review_band(prob: np.ndarray, threshold: float, share: float) -> ReviewBand:
    """The band that refers the `share` (0 <= share < 1) of the images `prob` least certain on each side of
    `threshold`: the round(share * n) predicted negatives with the highest probabilities and the round(share * n)
    predicted positives with the lowest. It reads no label, so it may be fitted on the images it decides."""
    if not 0.0 <= share < 1.0:
        raise WorkbookError(f"review share {share!r}: give the share of images to refer, from 0 up to (not) 1")
    p = np.asarray(prob, dtype=float)
    below, above = np.sort(p[p < threshold]), np.sort(p[p >= threshold])
    k_below, k_above = (int(np.floor(share * len(side) + 0.5)) for side in (below, above))
    return ReviewBand(float(threshold), float(share),
                      float(below[len(below) - k_below]) if k_below else float("nan"),
                      float(above[k_above - 1]) if k_above else float("nan"))


def review_flags(prob: np.ndarray, threshold: float, share: float,
                 reference: np.ndarray | None = None) -> np.ndarray:
    """True for the images to refer: the `share` least certain of each side of the threshold, ranked among
    `reference` (by default `prob` itself). TrainConfig.review_width is this share (0.1: a tenth of each
    predicted class goes to review), no longer a distance in probability."""
    return review_band(prob if reference is None else reference, threshold, share).refers(prob)


def coverage_table(y_true: np.ndarray, prob: np.ndarray, threshold: float,
                   shares: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3)) -> pd.DataFrame:
    """For each share referred: the band's edges, the share decided automatically (coverage), the accuracy on
    the decided images and on the referred ones, all at exactly `threshold` (given in every row, so a table or a
    curve shows the threshold it was computed at, not a rounded one)."""
    y_true, prob = np.asarray(y_true).astype(int), np.asarray(prob, dtype=float)
    correct = (prob >= threshold).astype(int) == y_true
    rows = []
    for share in shares:
        band = review_band(prob, threshold, share)
        keep = ~band.refers(prob)
        rows.append({"threshold": float(threshold), "share": float(share), "band_low": band.low,
                     "band_high": band.high, "coverage": float(keep.mean()) if len(keep) else float("nan"),
                     "accuracy_on_decided": float(correct[keep].mean()) if keep.any() else float("nan"),
                     "accuracy_on_referred": float(correct[~keep].mean()) if (~keep).any() else float("nan"),
                     "referred": int((~keep).sum())})
    return pd.DataFrame(rows)
