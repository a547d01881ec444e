"""Class balancing of the training part only: the paper's undersampling + SMOTE hybrid, class weights, or none."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from imblearn.over_sampling import SMOTE
from imblearn.under_sampling import RandomUnderSampler
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.class_weight import compute_class_weight

from ..errors import WorkbookError
from ..runs.config import BALANCES

# Exact SMOTE (imbalanced-learn) works on flattened float32 images; it runs when its copies fit in this many
# MB. Past that, SMOTE's own interpolation runs in uint8 batches, with neighbours found on compact images.
SMOTE_MEMORY_MB = 2048
EXACT_FLOAT_COPIES = 5  # imbalanced-learn holds the float32 input, its checked copy, the synthetic part, the output
SMOTE_NEIGHBOURS = 5  # imbalanced-learn's default k
COMPACT_SIDE = 8  # neighbours are searched on images block-averaged to 8 x 8 x 3
BATCH_IMAGES = 4096  # images per interpolation and copy batch


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
    majority), then SMOTE the minority up to parity; synthetic images come back as uint8. Every image the
    undersampling keeps is used: exact imbalanced-learn SMOTE when its float32 copies fit in `memory_mb`, else
    the same interpolation in uint8 batches with neighbours found on block-averaged images
    (report['method_detail'] says which)."""
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
    if n_min <= SMOTE_NEIGHBOURS:
        raise WorkbookError(f"SMOTE needs at least {SMOTE_NEIGHBOURS + 1} minority-class images in the training "
                            f"part (found {n_min}): use balance 'class_weight'")
    current = n_min / max(int((labels != minority).sum()), 1)
    rows = np.arange(len(labels)).reshape(-1, 1)
    if current < ratio:
        rows, _ = RandomUnderSampler(sampling_strategy=ratio, random_state=seed).fit_resample(rows, labels)
    rows = np.sort(rows.ravel())
    shape = images.shape[1:]
    exact_bytes = EXACT_FLOAT_COPIES * len(rows) * int(np.prod(shape)) * 4
    if exact_bytes <= memory_mb * 2**20:
        flat = np.asarray(images[rows]).reshape(len(rows), -1).astype(np.float32)
        x, y = SMOTE(k_neighbors=SMOTE_NEIGHBOURS, random_state=seed).fit_resample(flat, labels[rows])
        out, detail = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, *shape), "imbalanced-learn SMOTE (exact)"
    else:
        out, y = _smote_in_batches(images, labels, rows, minority, seed)
        detail = (f"SMOTE's interpolation x + u (x_nn - x), u ~ U(0, 1), in uint8 batches of {BATCH_IMAGES}; "
                  f"the {SMOTE_NEIGHBOURS} nearest minority neighbours found on images block-averaged to "
                  f"{COMPACT_SIDE}x{COMPACT_SIDE}x{shape[-1]} (exact SMOTE would need {exact_bytes / 2**20:,.0f} MB "
                  f"of float32 copies, over memory_mb={memory_mb:,})")
    report = {"method": "smote_hybrid", "before": before, "after": _counts(y),
              "undersampled_to": int(len(rows)), "synthetic": int(len(y) - len(rows)),
              "dropped": 0, "subsampled_for_memory": None, "memory_mb": memory_mb, "method_detail": detail}
    return Balanced(out, np.asarray(y).astype(int), None, report)


def _smote_in_batches(images: np.ndarray, labels: np.ndarray, rows: np.ndarray, minority: int,
                      seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every image of `rows`, then synthetic minority images up to parity, as imbalanced-learn's SMOTE draws
    them (a random minority image, one of its k neighbours at random, a random point between them). Memory
    beyond the uint8 output: compact images (n_min x 192 float32) and one float32 batch."""
    y = labels[rows]
    min_rows = rows[y == minority]
    n_syn = int((y != minority).sum() - len(min_rows))
    out = np.empty((len(rows) + max(n_syn, 0), *images.shape[1:]), dtype=np.uint8)
    for start in range(0, len(rows), BATCH_IMAGES):
        part = rows[start:start + BATCH_IMAGES]
        out[start:start + len(part)] = images[part]
    if n_syn <= 0:
        return out, y
    compact = np.concatenate([_compact(np.asarray(images[min_rows[i:i + BATCH_IMAGES]]))
                              for i in range(0, len(min_rows), BATCH_IMAGES)])
    neighbours = NearestNeighbors(n_neighbors=SMOTE_NEIGHBOURS + 1).fit(compact).kneighbors(
        compact, return_distance=False)[:, 1:]
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, neighbours.size, n_syn)
    base, partner = picks // SMOTE_NEIGHBOURS, neighbours.ravel()[picks]
    steps = rng.random(n_syn, dtype=np.float32)
    for start in range(0, n_syn, BATCH_IMAGES):
        batch = slice(start, start + BATCH_IMAGES)
        x = np.asarray(images[min_rows[base[batch]]], dtype=np.float32)
        x += steps[batch, None, None, None] * (np.asarray(images[min_rows[partner[batch]]], dtype=np.float32) - x)
        out[len(rows) + start:len(rows) + start + len(x)] = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return out, np.concatenate([y, np.full(n_syn, minority)])


def _compact(batch: np.ndarray) -> np.ndarray:
    """Images block-averaged to COMPACT_SIDE x COMPACT_SIDE (cropped to a multiple of it), flattened, float32."""
    n, h, w, c = batch.shape
    fh, fw = max(h // COMPACT_SIDE, 1), max(w // COMPACT_SIDE, 1)
    side_h, side_w = min(COMPACT_SIDE, h), min(COMPACT_SIDE, w)
    crop = batch[:, :fh * side_h, :fw * side_w].astype(np.float32)
    return crop.reshape(n, side_h, fh, side_w, fw, c).mean(axis=(2, 4)).reshape(n, -1)


def _counts(labels: np.ndarray) -> dict[str, int]:
    counts = np.bincount(labels, minlength=2)
    return {"0": int(counts[0]), "1": int(counts[1])}
