"""Coverage: every interval and p-value the package reports keeps its promise when patients differ.

Simulated test sets with patient effects (tests/simulate.py): few patients, patients of one class, seeds that
share their test patients or test different ones, and models that misread a patient as a whole. Under a true
null, a nominal 95% interval may exclude 0 (and the p-value fall under 0.05) in at most 7% of replicates;
under a real difference they must see it; and a design too small for a verdict is refused, not scored.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from fakes import write_run
from simulate import Design, cohort, seed_tests, trained

from bc_helpers.evaluation.metrics import binary_metrics, bootstrap
from bc_helpers.evaluation.paired import METRICS, paired_differences, training_gain

REPLICATES = 400
BOUND = 0.07
NULL_DESIGNS = {
    "10 patients, 4 in 10 of one class": Design(patients=10, images=20, one_class=0.4),
    "12 patients shared by 4 seeds": Design(patients=12, seeds=4),
    "3 seeds, each 12 of 30 patients": Design(patients=30, seeds=3, per_seed=12),
}


def _rates(design: Design, replicates: int, gain: float = 0.0, seed: int = 0) -> dict[str, dict[str, float]]:
    """Per metric, the share of decidable replicates whose interval excludes 0, whose p-value is under 0.05,
    and whose interval over seeds excludes 0; and the share refused."""
    rng = np.random.default_rng(seed)
    hits = {m: np.zeros(3) for m in METRICS}
    refused = 0
    for r in range(replicates):
        a, b = seed_tests(design, rng, gain)
        out = paired_differences(a, b, n_boot=1000, seed=r)
        if not out["decidable"]:
            refused += 1
            continue
        for m in METRICS:
            (low, high), seed_ci = out[m]["ci"], out[m]["seed_ci"]
            hits[m] += [low > 0 or high < 0, out[m]["p_value"] < 0.05, seed_ci[0] > 0 or seed_ci[1] < 0]
    scored = max(replicates - refused, 1)
    rates = {m: dict(zip(("ci", "p_value", "seed_ci"), (h / scored).tolist(), strict=True)) for m, h in hits.items()}
    return rates | {"refused": {"share": refused / replicates}}


@pytest.mark.parametrize("name", list(NULL_DESIGNS))
def test_under_a_true_null_intervals_and_p_values_reject_at_most_7_percent(name: str) -> None:
    rates = _rates(NULL_DESIGNS[name], REPLICATES)
    assert rates["refused"]["share"] < 0.05, rates
    for m in METRICS:
        assert rates[m]["ci"] <= BOUND and rates[m]["p_value"] <= BOUND, (name, rates)
        if NULL_DESIGNS[name].seeds > 1:
            assert rates[m]["seed_ci"] <= BOUND, (name, rates)


def test_a_real_difference_is_seen() -> None:
    rates = _rates(Design(patients=20, seeds=2), 100, gain=1.5)
    for m in METRICS:
        assert rates[m]["ci"] >= 0.8 and rates[m]["p_value"] >= 0.8, rates


@pytest.mark.parametrize("patients, one_class", [(6, 0.0), (12, 1.0)])
def test_designs_too_small_for_a_verdict_are_refused(patients: int, one_class: float) -> None:
    rng = np.random.default_rng(1)
    design = Design(patients=patients, one_class=one_class, seeds=3)
    for _ in range(20):
        a, b = seed_tests(design, rng)
        labels = a[0].table.groupby("patient")["label"].agg(["min", "max"])
        single = min((labels["min"] == 0).sum(), (labels["max"] == 1).sum()) < 2
        out = paired_differences(a, b, n_boot=200)
        if patients < 10 or single:
            assert not out["decidable"] and out["reason"].startswith("too few patients"), out["reason"]
            assert all(out[m]["ci"] is None and out[m]["p_value"] is None for m in METRICS)


def test_a_single_run_interval_covers_the_true_patient_level_auc() -> None:
    """metrics.bootstrap's interval of one run: the ROC-AUC and balanced accuracy of images pooled over the
    whole population of patients (a very large simulated cohort) lie outside it in at most 7% of replicates."""
    design = Design()
    rng = np.random.default_rng(7)
    population = trained(cohort(Design(patients=6000), rng), design, rng, "truth")
    true = binary_metrics(population.table["label"], population.table["probability"], 0.5)
    missed = {m: 0 for m in METRICS}
    for r in range(REPLICATES):
        t = trained(cohort(design, rng), design, rng, "run").table
        ci, _ = bootstrap(t["label"].to_numpy(), t["probability"].to_numpy(), t["patient"].to_numpy(),
                             n_boot=1000, seed=r)
        for m in METRICS:
            missed[m] += not ci[m][0] <= true[m] <= ci[m][1]
    assert all(v / REPLICATES <= BOUND for v in missed.values()), missed


def _compare_by_command(tmp_path: Path, replicates: int, gain: float) -> dict[str, float]:
    """`python -m bc_helpers compare` on simulated run folders of 20 patients x 30 images (predictions.csv and
    metrics.json only), two processes at a time: the share of replicates whose interval excludes 0 and whose
    p-value is under 0.05, per metric (both must agree)."""
    rng = np.random.default_rng(11)
    jobs = []
    for r in range(replicates):
        (a,), (b,) = seed_tests(Design(patients=20, images=30, one_class=0.3), rng, gain)
        folders = [write_run(tmp_path / f"{r}{name}", t.table["label"].to_numpy(), t.table["probability"].to_numpy(),
                             t.table["patient"].to_numpy(), paths=t.table["path"].tolist()) for name, t in
                   (("a", a), ("b", b))]
        jobs.append([sys.executable, "-m", "bc_helpers", "compare", *map(str, folders), "--n-boot", "1000",
                     "--seed", str(r), "--out", str(tmp_path / f"{r}.json")])
    with ThreadPoolExecutor(2) as pool:
        codes = list(pool.map(lambda cmd: subprocess.run(cmd, capture_output=True, check=False).returncode, jobs))
    assert codes == [0] * replicates
    results = [json.loads((tmp_path / f"{r}.json").read_text()) for r in range(replicates)]
    assert all(out["decidable"] for out in results)
    rates = {}
    for m in METRICS:
        outside = np.mean([out[m]["ci"][0] > 0 or out[m]["ci"][1] < 0 for out in results])
        small = np.mean([out[m]["p_value"] < 0.05 for out in results])
        rates[m] = max(outside, small)
    return rates


@pytest.mark.slow  # 60 processes: minutes on a shared machine
def test_the_compare_command_under_a_true_null_rejects_at_most_12_percent(tmp_path: Path) -> None:
    rates = _compare_by_command(tmp_path, 60, gain=0.0)
    assert all(rate <= 0.12 for rate in rates.values()), rates


def test_the_compare_command_sees_a_real_difference(tmp_path: Path) -> None:
    rates = _compare_by_command(tmp_path, 4, gain=2.0)
    assert all(rate >= 0.75 for rate in rates.values()), rates


def _gain_rejections(design: Design, replicates: int, gain: float) -> float:
    """The share of replicates whose training_gain interval lies above 0: the trained network against its untrained
    start on the same images, each with its own error on each patient as a whole."""
    rng = np.random.default_rng(1)
    rejected = 0
    for r in range(replicates):
        images = cohort(design, rng)
        after, before = trained(images, design, rng, "trained", gain), trained(images, design, rng, "untrained")
        out = training_gain(images["label"].to_numpy(), after.table["probability"].to_numpy(),
                            before.table["probability"].to_numpy(), images["patient"].to_numpy(), n_boot=500, seed=r)
        rejected += out["ci"] is not None and out["ci"][0] > 0
    return rejected / replicates


def test_the_training_gain_under_a_true_null_lies_above_0_at_most_7_percent_and_sees_a_real_gain() -> None:
    """One-sided: the reading calls a flat-output run "learned" only when the interval lies above 0, so under a
    null its false "learned" rate is at most half the two-sided 5%, bounded here by the suite's 7%."""
    design = Design(patients=17, images=20)
    assert _gain_rejections(design, 300, 0.0) <= BOUND
    assert _gain_rejections(design, 60, 2.0) >= 0.8
