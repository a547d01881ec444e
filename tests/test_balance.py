from __future__ import annotations

import numpy as np
import pytest

from bc_helpers.balance import balance
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


def test_smote_memory_bound_subsamples_then_refuses_clearly() -> None:
    images, labels = _data(800, 200)
    bytes_per_image = 2 * 8 * 8 * 3 * 4
    out = balance(images, labels, "smote_hybrid", memory_mb=300 * bytes_per_image / 2**20)
    assert out.report["subsampled_for_memory"] == 300 and out.report["after"] == {"0": 200, "1": 200}
    images, labels = _data()
    with pytest.raises(WorkbookError, match="class_weight"):
        balance(images, labels, "smote_hybrid", memory_mb=0)
    with pytest.raises(WorkbookError, match="unknown balance"):
        balance(images, labels, "oversample")
