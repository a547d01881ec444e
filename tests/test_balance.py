from __future__ import annotations

import numpy as np
import pytest

from bc_helpers.data.balance import balance
from bc_helpers.errors import WorkbookError


def _data(n0: int = 80, n1: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n0 + n1, 8, 8, 3), dtype=np.uint8)
    return images, np.array([0] * n0 + [1] * n1)


def test_smote_hybrid_undersamples_then_oversamples_to_parity() -> None:
    images, labels = _data()
    out = balance(images, labels, "smote_hybrid", seed=0, undersample_ratio=0.5)
    # Majority 80 -> 40 (minority/majority = 0.5), then SMOTE 20 -> 40.
    assert out.report["after"] == {"0": 40, "1": 40} and out.report["synthetic"] == 20
    assert out.images.dtype == np.uint8 and out.images.shape == (80, 8, 8, 3)
    real = {im.tobytes() for im in images}
    assert sum(im.tobytes() in real for im in out.images) == 60


def test_class_weight_and_none_leave_data_alone() -> None:
    images, labels = _data()
    cw = balance(images, labels, "class_weight")
    assert cw.images is images and cw.class_weight == pytest.approx({0: 100 / 160, 1: 100 / 40})
    assert balance(images, labels, "none").class_weight is None


def test_smote_past_the_memory_bound_keeps_every_image_and_interpolates_in_uint8() -> None:
    images, labels = _data(800, 200)
    out = balance(images, labels, "smote_hybrid", seed=3, memory_mb=0)
    # Majority 800 -> 400, minority 200 kept, 200 synthetic: no image dropped.
    assert out.report["after"] == {"0": 400, "1": 400} and out.report["dropped"] == 0
    assert out.report["subsampled_for_memory"] is None and "block-averaged" in out.report["method_detail"]
    assert out.images.dtype == np.uint8 and out.images.shape == (800, 8, 8, 3)
    real = {im.tobytes() for im in images}
    assert all(im.tobytes() in real for im in out.images[:600])
    assert {im.tobytes() for im in images[labels == 1]} <= {im.tobytes() for im in out.images[:600]}
    # Each synthetic image lies on a segment between two minority images: a + u (b - a), u in [0, 1].
    minority = images[labels == 1].reshape(200, -1).astype(float)
    for synthetic in out.images[600:620].reshape(20, -1).astype(float):
        assert _segment_error(synthetic, minority) <= 1.0  # rounding, and u fitted by least squares
    assert out.labels[600:].tolist() == [1] * 200
    assert balance(images, labels, "smote_hybrid", seed=3, memory_mb=0).images.tobytes() == out.images.tobytes()


def _segment_error(point: np.ndarray, minority: np.ndarray) -> float:
    """Over every pair (a, b) of minority images, the smallest largest-per-pixel distance from `point` to the
    segment a-b (u by least squares)."""
    best = np.inf
    for a in minority:
        d = minority - a
        u = np.clip((d @ (point - a)) / np.maximum((d * d).sum(axis=1), 1e-12), 0, 1)
        best = min(best, float(np.abs(point - (a + u[:, None] * d)).max(axis=1).min()))
    return best


def test_smote_refuses_too_few_minority_images_and_unknown_methods() -> None:
    images, labels = _data(50, 5)
    with pytest.raises(WorkbookError, match="class_weight"):
        balance(images, labels, "smote_hybrid")
    with pytest.raises(WorkbookError, match="unknown balance"):
        balance(images, labels, "oversample")


def test_bench_balance_section_keeps_every_image() -> None:
    from bc_helpers.bench.measure import balance_cost

    result = balance_cost(images=3000, side=20)
    # 2148 negatives, 852 positives -> 1704 negatives kept, 852 synthetic positives.
    assert result["images_in"] == 3000 and result["images_out"] == 2 * 1704 and result["report"]["dropped"] == 0
    assert result["peak_above_input_mb"] > 0 and result["input_mb"] == 3000 * 20 * 20 * 3 / 2**20
