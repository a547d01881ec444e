"""The refer-for-review band: it refers the least certain images of each side of the threshold, so accuracy on
the images it decides does not fall as it refers more, even with a threshold near 1."""

from __future__ import annotations

import numpy as np
import pytest

from bc_helpers.errors import WorkbookError
from bc_helpers.evaluation.decisions import coverage_table, review_band, review_flags

# 10 images: 4 positives, 6 negatives. At 0.5: TP=3 (0.9, 0.8, 0.6), FN=1 (0.4), FP=1 (0.7), TN=5.
Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
P = np.array([0.9, 0.8, 0.6, 0.4, 0.7, 0.3, 0.2, 0.1, 0.05, 0.45])
SHARES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)


def test_each_side_gives_up_its_share_nearest_the_threshold() -> None:
    # Below 0.5: 0.45 0.4 0.3 0.2 0.1 0.05 (6 images); above: 0.6 0.7 0.8 0.9 (4). A share of 0.34 refers
    # round(2.04) = 2 below (0.45, 0.4) and round(1.36) = 1 above (0.6).
    band = review_band(P, 0.5, 0.34)
    assert (band.low, band.high) == (0.4, 0.6)
    assert review_flags(P, 0.5, 0.34).tolist() == [False, False, True, True, False, False, False, False, False,
                                                    True]
    table = coverage_table(Y, P, 0.5, (0.0, 0.34))
    assert table["coverage"].tolist() == [1.0, 0.7]
    # Decided: 0.9 0.8 0.7 0.3 0.2 0.1 0.05, of which only 0.7 (a negative) is wrong.
    assert table["accuracy_on_decided"].tolist() == pytest.approx([0.8, 6 / 7])
    assert table["accuracy_on_referred"].iloc[1] == pytest.approx(2 / 3)  # 0.45 right, 0.4 wrong, 0.6 right
    assert (table["threshold"] == 0.5).all() and np.isnan(table["band_low"].iloc[0])


def test_no_share_refers_nothing_and_a_share_of_one_is_refused() -> None:
    assert not review_flags(P, 0.5, 0.0).any()
    with pytest.raises(WorkbookError, match="share"):
        review_band(P, 0.5, 1.0)


def test_the_band_carries_over_to_new_images() -> None:
    """Edges fitted on a reference set (validation) decide a single new image the same way."""
    band = review_band(P, 0.5, 0.34)
    assert review_flags(np.array([0.42, 0.55, 0.61, 0.35]), 0.5, 0.34, reference=P).tolist() == [
        True, True, False, False]
    assert band.refers(np.array([0.45]))[0] and not band.refers(np.array([0.95]))[0]


def _high_threshold_case(seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Like 08's defaults: a balanced-trained model whose probabilities sit high for everyone, threshold 0.825,
    positives a third of the 290 test images."""
    rng = np.random.default_rng(seed)
    y = (rng.random(290) < 0.35).astype(int)
    p = np.where(y == 1, rng.beta(14, 1.5, 290), rng.beta(5, 2, 290))
    return y, p, 0.825


def _not_decreasing(accuracy: np.ndarray, tolerance: float = 0.01) -> bool:
    return bool((np.diff(accuracy) >= -tolerance).all())


def test_a_threshold_near_one_does_not_refer_the_most_confident_positives() -> None:
    y, p, t = _high_threshold_case()
    referred = review_flags(p, t, 0.2)
    assert not referred[p >= np.quantile(p[p >= t], 0.5)].any()  # the surer half of the positive calls stay
    assert referred.mean() == pytest.approx(0.2, abs=0.01)
    # The fixed distance |p - t| < 0.2 that this replaces referred every p above 0.625.
    table = coverage_table(y, p, t, SHARES)
    assert _not_decreasing(table["accuracy_on_decided"].to_numpy())
    assert table["accuracy_on_decided"].iloc[-1] > table["accuracy_on_decided"].iloc[0]


@pytest.mark.parametrize("seed", range(5))
def test_accuracy_on_decided_does_not_fall_as_coverage_falls(seed: int) -> None:
    """Realistic simulated runs: patients shift every image's score, the threshold is anywhere from 0.1 to 0.9."""
    rng = np.random.default_rng(seed)
    patient = rng.integers(0, 15, 400)
    y = (rng.random(400) < 0.3).astype(int)
    logit = 1.6 * (2 * y - 1) + rng.normal(0, 1.2, 400) + rng.normal(0, 0.8, 15)[patient] + rng.normal(0, 1.5)
    p = 1 / (1 + np.exp(-logit))
    t = float(np.quantile(p, rng.uniform(0.3, 0.9)))
    table = coverage_table(y, p, t, SHARES)
    assert (np.diff(table["coverage"]) < 0).all()
    assert _not_decreasing(table["accuracy_on_decided"].to_numpy()), table
