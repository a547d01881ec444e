"""Metrics against cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from bc_helpers.evaluation.decisions import choose_threshold, sensitivity_threshold
from bc_helpers.evaluation.metrics import (
    CI_METRICS,
    PatientScorer,
    binary_metrics,
    bootstrap,
    expected_calibration_error,
    patient_metrics,
    reliability_table,
)
from bc_helpers.evaluation.resampling import _tail

# 10 images: 4 positives, 6 negatives. At 0.5: TP=3 (0.9, 0.8, 0.6), FN=1 (0.4), FP=1 (0.7), TN=5.
Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
P = np.array([0.9, 0.8, 0.6, 0.4, 0.7, 0.3, 0.2, 0.1, 0.05, 0.45])


def test_binary_metrics_hand_computed() -> None:
    m = binary_metrics(Y, P, 0.5)
    assert m["confusion"] == {"tn": 5, "fp": 1, "fn": 1, "tp": 3}
    assert m["accuracy"] == pytest.approx(8 / 10)
    assert m["sensitivity"] == pytest.approx(3 / 4)
    assert m["specificity"] == pytest.approx(5 / 6)
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(0.75)
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 5 / 6) / 2)  # the paper's Eq. 5 "AUC"
    # ROC-AUC: of 24 positive/negative pairs, the positive scores higher in all but (0.6<0.7), (0.4<0.7),
    # (0.4<0.45): 21/24.
    assert m["roc_auc"] == pytest.approx(21 / 24)
    # Average precision: positives at ranks 1, 2, 4, 6 -> (1 + 1 + 3/4 + 4/6) / 4.
    assert m["pr_auc"] == pytest.approx((1 + 1 + 0.75 + 4 / 6) / 4)


def test_weighted_recall_equals_accuracy_as_in_the_paper() -> None:
    m = binary_metrics(Y, P, 0.5)
    assert m["weighted"]["recall"] == pytest.approx(m["accuracy"])
    assert m["sensitivity"] != pytest.approx(m["accuracy"])


def test_patient_level_averages_probabilities() -> None:
    patients = np.array(["a", "a", "b", "b", "c", "c", "d", "d", "e", "e"])
    m = patient_metrics(Y, P, patients, 0.5)
    # Means: a 0.85 (label 1), b 0.5 (1), c 0.5 (0), d 0.15 (0), e 0.25 (0): TP=2, FP=1, TN=2.
    assert m["n_patients"] == 5
    assert m["confusion"] == {"tn": 2, "fp": 1, "fn": 0, "tp": 2}


def test_bootstrap_interval_contains_the_estimate_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(y * 0.3 + rng.random(400) * 0.7, 0, 1)
    patients = np.repeat(np.arange(40), 10)
    ci, info = bootstrap(y, p, patients, 0.5, n_boot=200, seed=1)
    point = binary_metrics(y, p, 0.5)
    for name in ("accuracy", "roc_auc", "balanced_accuracy"):
        lo, hi = ci[name]
        assert lo < point[name] < hi and hi - lo < 0.2
    assert ci == bootstrap(y, p, patients, 0.5, n_boot=200, seed=1)[0] and info["decidable"]


def test_thresholds_hand_computed() -> None:
    # Youden's J = sens + spec - 1: at 0.8 -> 2/4 + 6/6 - 1 = 0.5; at 0.6 -> 3/4 + 5/6 - 1 = 0.583;
    # at 0.4 -> 4/4 + 4/6 - 1 = 0.667, the best. Sensitivity >= 0.75 is first reached at 0.6.
    assert choose_threshold(Y, P, "youden") == pytest.approx(0.4)
    assert sensitivity_threshold(Y, P, 0.75) == pytest.approx(0.6)
    assert choose_threshold(Y, P, "fixed") == 0.5


def test_brier_and_ece_hand_computed() -> None:
    m = binary_metrics(Y, P, 0.5)
    assert m["brier"] == pytest.approx(np.mean((P - Y) ** 2))
    # Bins of width 0.1: [0.0, 0.1): 0.05 (y 0); [0.1, 0.2): 0.1 (0); [0.2, 0.3): 0.2 (0); [0.3, 0.4): 0.3 (0);
    # [0.4, 0.5): 0.4 (1), 0.45 (0); [0.6, 0.7): 0.6 (1); [0.7, 0.8): 0.7 (0); [0.8, 0.9): 0.8 (1); [0.9, 1]: 0.9 (1).
    gaps = [0.05, 0.1, 0.2, 0.3, 2 * abs(0.5 - 0.425), 0.4, 0.7, 0.2, 0.1]
    assert m["ece"] == pytest.approx(sum(gaps) / 10)


def test_reliability_table_counts_every_image_once() -> None:
    table = reliability_table(Y, P)
    assert len(table) == 10 and table["count"].sum() == len(Y)
    row = table.iloc[4]  # [0.4, 0.5)
    assert row["count"] == 2 and row["mean_predicted"] == pytest.approx(0.425) and row["observed_frequency"] == 0.5
    assert np.isnan(table.iloc[5]["observed_frequency"])
    # A probability of exactly 1.0 falls in the last bin, not past it.
    assert reliability_table(np.array([1]), np.array([1.0]))["count"].iloc[-1] == 1
    assert expected_calibration_error(np.array([0, 1]), np.array([0.0, 1.0])) == 0.0


def test_patient_level_labels_only_where_a_patient_has_one_label() -> None:
    # IDC-like: patient a holds positives and negatives, so "the patient's label" means nothing.
    patients = np.array(["a", "a", "a", "a", "a", "b", "b", "b", "b", "b"])
    m = patient_metrics(Y, P, patients, 0.5)
    assert m["n_patients"] == 2 and m["n_images"] == 10 and m["label_metrics"] is False
    assert np.isnan(m["roc_auc"]) and np.isnan(m["accuracy"])
    # a: 4 of 5 positive, mean prob (0.9+0.8+0.6+0.4+0.7)/5 = 0.68; b: 0 positive, mean 0.22.
    assert m["positive_share_mae"] == pytest.approx((abs(0.68 - 0.8) + 0.22) / 2)
    assert patient_metrics(Y, P, np.array(list("aabbccddee")), 0.5)["label_metrics"] is True


def test_bootstrap_with_few_patients_warns_and_counts_its_draws() -> None:
    patients = np.array(list("aabbccddee"))  # 5 patients: a, b positive; c, d, e negative
    with pytest.warns(UserWarning, match="too few patients: 5 test patients"):
        ci, info = bootstrap(Y, P, patients, 0.5, n_boot=300, seed=0)
    # A draw holds one class when it picks only from {a, b} or only from {c, d, e}: 2**5 + 3**5 of 5**5 draws.
    expected = (2**5 + 3**5) / 5**5 * 300
    assert abs(info["dropped_one_class"] - expected) < 4 * np.sqrt(expected)
    assert info["possible_resamples"] == 126 and 1 < info["distinct_resamples"] <= 126
    assert not info["decidable"]


def test_reliability_bins_hold_the_right_counts_and_shares_and_the_last_bin_is_closed() -> None:
    prob = np.array([0.05, 0.08, 0.15, 0.55, 0.58, 0.95, 1.0, 0.999])
    y = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    table = reliability_table(y, prob)
    assert table["count"].tolist() == [2, 1, 0, 0, 0, 2, 0, 0, 0, 3]  # 1.0 falls in the last bin
    assert table.loc[5, "mean_predicted"] == pytest.approx(0.565)
    assert table.loc[5, "observed_frequency"] == pytest.approx(0.5)
    assert table.loc[9, "observed_frequency"] == pytest.approx(2 / 3)
    assert np.isnan(table.loc[2, "observed_frequency"])


def test_a_draw_scores_as_scikit_learn_does_on_the_resampled_images() -> None:
    rng = np.random.default_rng(3)
    patients = np.repeat(np.array([f"p{i:02d}" for i in range(30)]), 10)
    y = rng.integers(0, 2, 300)
    prob = np.round(rng.random(300) * 0.6 + 0.3 * y, 2)  # rounded: many ties
    names, codes = np.unique(patients, return_inverse=True)
    scorer = PatientScorer.of(y, prob, 0.45, patients, names)
    counts = rng.integers(0, 3, (5, 30)).astype(float)
    scored = scorer.scores(counts)
    for row, c in enumerate(counts):
        w = c[codes].astype(int)
        resampled = binary_metrics(np.repeat(y, w), np.repeat(prob, w), 0.45)
        assert {k: v[row] for k, v in scored.items()} == pytest.approx({k: resampled[k] for k in CI_METRICS},
                                                                        abs=1e-12)
    only_positive = np.array([[float(y[codes == p].all()) for p in range(30)]])
    assert np.isnan(scorer.scores(only_positive)["roc_auc"][0])  # one class only


def test_the_bootstrap_resamples_patients_as_copies_of_their_images_would() -> None:
    rng = np.random.default_rng(4)
    patients = np.repeat(np.array([f"p{i:02d}" for i in range(12)]), 20)
    y, prob = rng.integers(0, 2, 240), rng.random(240)
    ci, _ = bootstrap(y, prob, patients, 0.5, n_boot=50, seed=2)
    # The same draws, as concatenated copies of the drawn patients' images, scored by scikit-learn.
    names, codes = np.unique(patients, return_inverse=True)
    picked, draws = np.random.default_rng(2).integers(0, len(names), (50, len(names))), {m: [] for m in CI_METRICS}
    for row in picked:
        rows = np.concatenate([np.flatnonzero(codes == i) for i in row])
        if len(np.unique(y[rows])) == 2:
            m = binary_metrics(y[rows], prob[rows], 0.5)
            for name in CI_METRICS:
                draws[name].append(m[name])
    tail = _tail(0.95, 12)  # the expanded percentile interval's cut for 12 patients
    assert 0.005 < tail < 0.025
    for name, values in draws.items():
        assert ci[name] == pytest.approx([np.quantile(values, tail), np.quantile(values, 1 - tail)], abs=1e-12)
