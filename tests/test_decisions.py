"""The threshold rule: Youden's J on validation data when it holds enough patients; else the validation share of
positives, or the training prior."""

import numpy as np
import pytest

from bc_helpers.evaluation.decisions import (
    choose_threshold,
    decide_threshold,
    patients_per_class,
    sensitivity_threshold,
)


def _validation(n_patients: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per patient 10 negatives and 10 positives; positives score higher, with overlap."""
    rng = np.random.default_rng(seed)
    y = np.tile(np.repeat([0, 1], 10), n_patients)
    prob = np.clip(0.3 + 0.3 * y + rng.normal(0, 0.15, len(y)), 0, 1)
    return y, prob, np.repeat(np.arange(n_patients), 20)


def test_patients_count_for_a_class_only_with_enough_images() -> None:
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0, 1])
    patients = np.array(["a", "a", "a", "a", "b", "b", "b", "c", "c"])
    assert patients_per_class(y, patients, min_images=3) == {0: 1, 1: 1}
    assert patients_per_class(y, patients, min_images=1) == {0: 2, 1: 3}


def test_enough_patients_use_youden() -> None:
    y, prob, patients = _validation(8)
    choice = decide_threshold(y, prob, patients, "youden", prior=0.5)
    assert choice.rule == "youden"
    assert choice.threshold == pytest.approx(choose_threshold(y, prob, "youden"))


def test_few_patients_call_the_validation_share_positive_and_say_why() -> None:
    y, prob, patients = _validation(3)
    keep = (y == 1) | (np.arange(len(y)) % 4 == 0)  # 25% positives among the kept images
    y, prob, patients = y[keep], prob[keep] + 0.4, patients[keep]  # probabilities all above 0.4: uncalibrated
    choice = decide_threshold(y, prob, patients, "youden", prior=0.5)
    assert choice.rule == "share" and np.mean(prob >= choice.threshold) == pytest.approx(y.mean(), abs=0.02)
    assert "validation holds 3 negative and 3 positive patients" in choice.reason and "at least 4 each" in choice.reason
    assert np.mean(prob >= 0.5) > 0.9  # the training prior would have called nearly every image positive


def test_a_validation_roc_no_better_than_chance_falls_back() -> None:
    y, prob, patients = _validation(8)
    choice = decide_threshold(y, 1 - prob, patients, "sensitivity", prior=0.5)
    assert choice.rule == "share" and "no better than chance" in choice.reason


def test_one_class_in_validation_falls_back_to_the_training_prior() -> None:
    y, prob, patients = _validation(8)
    keep = y == 1
    choice = decide_threshold(y[keep], prob[keep], patients[keep], prior=0.37)
    assert (choice.rule, choice.threshold) == ("prior", 0.37)


def test_sensitivity_threshold_is_the_highest_reaching_the_target_with_tied_scores() -> None:
    """Against a brute-force search over every distinct score: roc_curve's default drop_intermediate=True
    returned a lower threshold than needed in some of these tied cases."""
    rng = np.random.default_rng(0)
    for case in range(300):
        n = int(rng.integers(6, 40))
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        prob = np.round(rng.random(n) * 0.5 + 0.4 * y, 1)  # few distinct scores: many ties
        target = float(rng.choice([0.5, 0.8, 0.9, 0.95]))
        reaching = [t for t in np.unique(prob) if np.mean(prob[y == 1] >= t) >= target]
        assert sensitivity_threshold(y, prob, target) == pytest.approx(max(reaching)), case
