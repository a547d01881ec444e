"""Comparing two runs fairly: on the same test images, a patient-level paired bootstrap of the difference
and DeLong's test for ROC-AUC; over several seeds, a combined difference with a bootstrap interval.

A bootstrap draw resamples test patients with replacement (images of one patient are not independent).
It is coded as integer weights per image (how often its patient was drawn), which gives the metrics of the
resampled set exactly, without copying it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..errors import WorkbookError
from ..runs.folders import RunFolder
from .metrics import MIN_BOOTSTRAP_PATIENTS, DrawScorer

METRICS = ("roc_auc", "balanced_accuracy")


@dataclass
class RunTest:
    """A run's test predictions (one row per image, sorted by path) and its decision threshold."""

    name: str
    table: pd.DataFrame  # path, patient, label, probability
    threshold: float


def read_run(run_dir: str | Path) -> RunTest:
    """The test part of a run folder (its predictions, sorted by path) and the threshold its metrics hold."""
    run = RunFolder(run_dir)
    for file in (run.predictions, run.metrics):
        if not file.is_file():
            raise WorkbookError(f"{file} not found: is {run.path} a finished run folder (made by `train`)?")
    frame = run.read_predictions()
    missing = {"path", "patient", "label", "part", "probability"} - set(frame.columns)
    if missing:
        raise WorkbookError(f"{run.predictions} lacks the columns {sorted(missing)}: it was not written by `train`")
    test = frame[frame["part"] == "test"].sort_values("path", ignore_index=True)
    test = test.assign(patient=test["patient"].astype(str))[["path", "patient", "label", "probability"]]
    return RunTest(str(run.path), test, float(run.read_metrics()["threshold"]))


def delong_test(y_true: np.ndarray, prob_a: np.ndarray, prob_b: np.ndarray) -> dict:
    """DeLong's test of equal ROC-AUCs of two scores on the same images (the fast algorithm of Sun & Xu 2014:
    the structural components come from midranks, O(n log n)). Returns both AUCs, their difference, its
    variance, z and the two-sided p-value (1.0 when the variance is 0, e.g. identical scores)."""
    y_true = np.asarray(y_true).astype(int)
    if len(np.unique(y_true)) < 2:
        raise WorkbookError("DeLong's test needs both classes among the test images")
    scores = np.vstack([np.asarray(prob_a, dtype=float), np.asarray(prob_b, dtype=float)])
    aucs, cov = _delong_components(scores[:, y_true == 1], scores[:, y_true == 0])
    variance = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    difference = float(aucs[0] - aucs[1])
    if variance <= 1e-15:
        z, p = 0.0, 1.0
    else:
        z = difference / np.sqrt(variance)
        p = float(2 * norm.sf(abs(z)))
    return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "difference": difference, "variance": variance,
            "z": float(z), "p_value": p}


def _midrank(x: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing the mean of their ranks."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    _, first, counts = np.unique(sorted_x, return_index=True, return_counts=True)
    ranks_sorted = np.repeat(first + (counts + 1) / 2.0, counts)
    out = np.empty(len(x))
    out[order] = ranks_sorted
    return out


def _delong_components(positives: np.ndarray, negatives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs (k,) and their covariance (k, k) from scores of k classifiers on m positives and n negatives."""
    m, n = positives.shape[1], negatives.shape[1]
    tx = np.array([_midrank(row) for row in positives])
    ty = np.array([_midrank(row) for row in negatives])
    tz = np.array([_midrank(row) for row in np.hstack([positives, negatives])])
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1) / (2.0 * n)
    v01 = (tz[:, :m] - tx) / n  # per positive: share of negatives it beats
    v10 = 1.0 - (tz[:, m:] - ty) / m  # per negative: share of positives that beat it
    cov = np.atleast_2d(np.cov(v01)) / m + np.atleast_2d(np.cov(v10)) / n
    return aucs, cov


class _PatientDraws:
    """Integer image weights for patient-level bootstrap draws over one test set."""

    def __init__(self, patients: np.ndarray) -> None:
        self.codes, self.names = pd.factorize(np.asarray(patients).astype(str))

    def weights(self, rng: np.random.Generator) -> np.ndarray:
        k = len(self.names)
        return np.bincount(rng.integers(0, k, k), minlength=k)[self.codes].astype(float)


def _aligned(a: RunTest, b: RunTest) -> None:
    same = len(a.table) == len(b.table) and (a.table["path"].to_numpy() == b.table["path"].to_numpy()).all()
    if not same or not (a.table["label"].to_numpy() == b.table["label"].to_numpy()).all():
        raise WorkbookError(
            f"{RunFolder(a.name).predictions} and {RunFolder(b.name).predictions} hold different test images: a paired "
            "comparison needs two runs with the same split (same dataset, protocol and seed)."
        )


def _interval(draws: np.ndarray, level: float) -> list[float]:
    kept = draws[~np.isnan(draws)]
    if not len(kept):
        return [float("nan")] * 2
    alpha = (1 - level) / 2
    return [float(np.quantile(kept, alpha)), float(np.quantile(kept, 1 - alpha))]


def _bootstrap_p(draws: np.ndarray, observed: float) -> float:
    """Two-sided p-value of 'no difference': the bootstrap distribution shifted to the null,
    (1 + #{|d* - d| >= |d|}) / (B + 1); 1.0 for an observed difference of 0."""
    kept = draws[~np.isnan(draws)]
    if observed == 0 or not len(kept):
        return 1.0
    return float((1 + np.sum(np.abs(kept - observed) >= abs(observed))) / (len(kept) + 1))


def compare_runs(run_a: str | Path, run_b: str | Path, n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> dict:
    """Run A against run B on the same test images: for roc_auc and balanced_accuracy, each run's value, the
    difference A - B, a patient-level paired bootstrap interval (each draw resamples patients once and scores
    both runs on it, each at its own threshold), and a p-value (DeLong's test for ROC-AUC, the bootstrap for
    balanced accuracy). Draws holding one class only are dropped and counted.

    DeLong's test treats images as independent; patches of one patient are not, so with few patients its
    p-value is too small, and the patient-level interval is the figure to read (under 10 patients the result
    carries a `warning`)."""
    a, b = read_run(run_a), read_run(run_b)
    _aligned(a, b)
    y, groups = a.table["label"].to_numpy(), a.table["patient"].to_numpy()
    sa, sb = (DrawScorer(y, r.table["probability"].to_numpy(), r.threshold) for r in (a, b))
    ones = np.ones(len(y))
    point_a, point_b = sa.scores(ones), sb.scores(ones)
    draws = _PatientDraws(groups)
    rng = np.random.default_rng(seed)
    diffs = {name: np.empty(n_boot) for name in METRICS}
    for i in range(n_boot):
        w = draws.weights(rng)
        da, db = sa.scores(w), sb.scores(w)
        for name in METRICS:
            diffs[name][i] = da[name] - db[name]
    delong = delong_test(y, a.table["probability"].to_numpy(), b.table["probability"].to_numpy())
    out: dict = {"run_a": a.name, "run_b": b.name, "n_images": int(len(y)), "n_patients": int(len(draws.names)),
                 "n_boot": n_boot, "dropped_draws": int(np.isnan(diffs["roc_auc"]).sum()), "level": level,
                 "p_value_method": {"roc_auc": "DeLong (Sun & Xu 2014), images taken as independent",
                                    "balanced_accuracy": "patient-level paired bootstrap"}}
    if len(draws.names) < MIN_BOOTSTRAP_PATIENTS:
        out["warning"] = (f"only {len(draws.names)} test patients: the bootstrap has few distinct resamples and "
                          "DeLong's p-value ignores that images of a patient are alike; read both with care")
    for name in METRICS:
        difference = point_a[name] - point_b[name]
        p = delong["p_value"] if name == "roc_auc" else _bootstrap_p(diffs[name], difference)
        out[name] = {"a": point_a[name], "b": point_b[name], "difference": difference,
                     "ci": _interval(diffs[name], level), "p_value": p}
    return out


def seed_difference(pairs: Sequence[tuple[str | Path, str | Path]], metric: str = "roc_auc", paired: bool = True,
                    n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """The difference A - B of `metric` over several seeds, one (run_a, run_b) pair per seed, with a
    bootstrap interval of the mean over seeds.

    paired=True (e.g. CNN against CNN-LSTM, same split per seed): within each seed, a draw resamples that
    seed's test patients once and scores both runs on it; the seeds are resampled independently of each other
    and a draw's combined difference is the mean of its per-seed differences.
    paired=False (e.g. the leak: image split against patient split, whose test sets differ): within each seed,
    each run's test patients are resampled separately (an unpaired bootstrap by patient); seeds are combined
    the same way. The interval is the percentile interval of the combined draws; it reflects test-patient
    sampling within the seeds given, and the seeds' spread through the mean (`per_seed` lists each seed's
    difference)."""
    if metric not in METRICS:
        raise WorkbookError(f"unknown metric {metric!r}: choose one of {', '.join(METRICS)}")
    if not pairs:
        raise WorkbookError("seed_difference needs at least one (run_a, run_b) pair")
    rng = np.random.default_rng(seed)
    per_seed, combined = [], np.zeros(n_boot)
    for run_a, run_b in pairs:
        a, b = read_run(run_a), read_run(run_b)
        if paired:
            _aligned(a, b)
        scorers = [DrawScorer(r.table["label"].to_numpy(), r.table["probability"].to_numpy(), r.threshold)
                   for r in (a, b)]
        draws = [_PatientDraws(r.table["patient"].to_numpy()) for r in (a, b)]
        ones = [np.ones(len(r.table)) for r in (a, b)]
        diff = scorers[0].scores(ones[0])[metric] - scorers[1].scores(ones[1])[metric]
        per_seed.append({"run_a": a.name, "run_b": b.name, "difference": float(diff)})
        for i in range(n_boot):
            wa = draws[0].weights(rng)
            wb = wa if paired else draws[1].weights(rng)
            combined[i] += scorers[0].scores(wa)[metric] - scorers[1].scores(wb)[metric]
    combined /= len(pairs)
    return {"metric": metric, "difference": float(np.mean([s["difference"] for s in per_seed])),
            "ci": _interval(combined, level), "n_seeds": len(pairs), "seed_std": float(
                np.std([s["difference"] for s in per_seed], ddof=1)) if len(pairs) > 1 else float("nan"),
            "dropped_draws": int(np.isnan(combined).sum()), "paired": paired, "n_boot": n_boot,
            "per_seed": per_seed}
