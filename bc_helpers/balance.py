"""Class balancing of the training part only: the paper's undersampling + SMOTE hybrid, class weights, or none."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from imblearn.over_sampling import SMOTE
from imblearn.under_sampling import RandomUnderSampler
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight

from .errors import WorkbookError

BALANCES = ("smote_hybrid", "class_weight", "none")
# SMOTE works on flattened float32 images and may use this much memory.
# Past that, the undersampled set is subsampled (stratified, reported) to fit.
SMOTE_MEMORY_MB = 2048
MIN_SMOTE_IMAGES = 100


@dataclass
class Balanced:
    images: np.ndarray
    labels: np.ndarray
    class_weight: dict[int, float] | None
    report: dict


def balance(
    images: np.ndarray, labels: np.ndarray, method: str = "class_weight", seed: int = 0,
    undersample_ratio: float = 0.5, memory_mb: int = SMOTE_MEMORY_MB,
) -> Balanced:
    """Balance a training set. `smote_hybrid`: undersample the majority to `undersample_ratio` (minority /
    majority), then SMOTE the minority up to parity; synthetic images come back as uint8."""
    labels = np.asarray(labels).astype(int)
    before = _counts(labels)
    if method == "none":
        return Balanced(images, labels, None, {"method": method, "before": before, "after": before})
    if method == "class_weight":
        weights = compute_class_weight("balanced", classes=np.array([0, 1]), y=labels)
        cw = {0: float(weights[0]), 1: float(weights[1])}
        return Balanced(images, labels, cw, {"method": method, "before": before, "after": before, "class_weight": cw})
    if method != "smote_hybrid":
        raise WorkbookError(f"unknown balance {method!r}: choose one of {', '.join(BALANCES)}")
    return _smote_hybrid(images, labels, seed, undersample_ratio, memory_mb, before)


def _smote_hybrid(images: np.ndarray, labels: np.ndarray, seed: int, ratio: float, memory_mb: int,
                  before: dict[str, int]) -> Balanced:
    minority = int(np.argmin(np.bincount(labels, minlength=2)))
    n_min = int((labels == minority).sum())
    if n_min < 6:
        raise WorkbookError(f"SMOTE needs at least 6 minority-class images in the training part (found {n_min})")
    current = n_min / max(int((labels != minority).sum()), 1)
    rows = np.arange(len(labels)).reshape(-1, 1)
    if current < ratio:
        rows, _ = RandomUnderSampler(sampling_strategy=ratio, random_state=seed).fit_resample(rows, labels)
    rows = np.sort(rows.ravel())
    shape = images.shape[1:]
    bytes_per_image = 2 * int(np.prod(shape)) * 4  # float32 input and output of SMOTE
    fit = int(memory_mb * 2**20 // bytes_per_image)
    subsampled = None
    if len(rows) > fit:
        if fit < MIN_SMOTE_IMAGES:
            raise WorkbookError(
                f"SMOTE on images of {shape} can hold only {fit} images in {memory_mb:,} MB: use balance "
                "'class_weight', a smaller image size, or raise memory_mb."
            )
        rows, _ = train_test_split(rows, train_size=fit, random_state=seed, stratify=labels[rows])
        rows, subsampled = np.sort(rows), fit
    flat = np.asarray(images[rows]).reshape(len(rows), -1).astype(np.float32)
    x, y = SMOTE(random_state=seed).fit_resample(flat, labels[rows])
    out = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, *shape)
    report = {"method": "smote_hybrid", "before": before, "after": _counts(y),
              "undersampled_to": int(len(rows)), "synthetic": int(len(y) - len(rows)),
              "subsampled_for_memory": subsampled, "memory_mb": memory_mb}
    return Balanced(out, y.astype(int), None, report)


def _counts(labels: np.ndarray) -> dict[str, int]:
    counts = np.bincount(labels, minlength=2)
    return {"0": int(counts[0]), "1": int(counts[1])}
