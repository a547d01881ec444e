"""Comparing runs fairly, by patient: two runs on the same test images, and several seeds (or repeats of a
cross-validation) combined.

Every interval and p-value here comes from one bootstrap over test patients (resampling.PatientDraws): each
draw is shared by every arm and every seed scored on the same patients, so a seed that tests the same
patients as another does not count as new evidence about them. Images are never taken as independent: a
test that did (DeLong's, on images) rejected a true null most of the time when patients differ. Beside the
interval over patients stands the interval over seeds (`seed_ci`), the spread that training adds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import WorkbookError
from ..runs.folders import RunFolder
from .metrics import PatientScorer
from .resampling import PatientDraws, decidable, percentile_interval, percentile_p, seed_interval

METRICS = ("roc_auc", "balanced_accuracy")
METHOD = "patient bootstrap, expanded percentile (Hesterberg 2015), one draw shared by every run and seed"


@dataclass
class RunTest:
    """A run's test predictions (one row per image, sorted by path) and its decision threshold. A table with a
    `threshold` column (pooled out-of-fold predictions, each fold with its own) uses that per image."""

    name: str
    table: pd.DataFrame  # path, patient, label, probability[, threshold]
    threshold: float

    def thresholds(self) -> float | np.ndarray:
        return self.table["threshold"].to_numpy(dtype=float) if "threshold" in self.table else self.threshold

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
    return RunTest(str(run.path), test, run.read_record().threshold)


def as_test(run: RunTest | str | Path) -> RunTest:
    """A run folder read as its test predictions; a RunTest (e.g. pooled out-of-fold predictions) as it is."""
    return run if isinstance(run, RunTest) else read_run(run)


def _aligned(a: RunTest, b: RunTest) -> None:
    same = len(a.table) == len(b.table) and (a.table["path"].to_numpy() == b.table["path"].to_numpy()).all()
    if not same or not (a.table["label"].to_numpy() == b.table["label"].to_numpy()).all():
        raise WorkbookError(
            f"{RunFolder(a.name).predictions} and {RunFolder(b.name).predictions} hold different test images: a paired "
            "comparison needs two runs with the same split (same dataset, protocol and seed)."
        )


def _union(runs: Sequence[RunTest]) -> tuple[np.ndarray, np.ndarray]:
    """Labels and patients of every image of every run, each image once (by path)."""
    frame = pd.concat([r.table[["path", "patient", "label"]] for r in runs]).drop_duplicates("path")
    return frame["label"].to_numpy(), frame["patient"].astype(str).to_numpy()


def _scorer(run: RunTest, names: np.ndarray) -> PatientScorer:
    t = run.table
    return PatientScorer.of(t["label"].to_numpy(), t["probability"].to_numpy(), run.thresholds(),
                            t["patient"].to_numpy(), names)


def paired_differences(a: Sequence[RunTest], b: Sequence[RunTest], n_boot: int = 2000, seed: int = 0,
                       level: float = 0.95, metrics: Sequence[str] = METRICS) -> dict:
    """A - B over seeds: a[s] and b[s] are seed s's two runs (the same test images for a paired comparison, or
    two test sets). The estimate is the mean over seeds of each seed's difference. One bootstrap draw resamples
    the union of all test patients and scores every run on the drawn patients it holds, so seeds that share
    test patients share the draw; `ci` is the percentile interval of the draws' mean difference, `p_value`
    the p-value that agrees with it, `seed_ci` the t interval over the seeds' differences (training
    variance). A union too small for a verdict (resampling.decidable) is refused: `ci`, `p_value` and
    `seed_ci` are None and `reason` says why."""
    if not a or len(a) != len(b):
        raise WorkbookError(f"one run of each arm per seed is needed: got {len(a)} and {len(b)}")
    labels, patients = _union([*a, *b])
    ok, reason = decidable(labels, patients)
    draws = PatientDraws.of(labels, patients)
    counts = draws.counts(n_boot, seed) if ok else np.ones((0, len(draws.names)))
    ones = np.ones((1, len(draws.names)))
    out: dict = {"n_seeds": len(a), "n_patients": len(draws.names),
                 "n_test_patients": min(int(r.table["patient"].nunique()) for r in (*a, *b)),
                 "n_boot": n_boot if ok else 0, "level": level, "decidable": ok, "reason": reason, "method": METHOD}
    scorers = [(_scorer(x, draws.names), _scorer(y, draws.names)) for x, y in zip(a, b, strict=True)]
    points = [(sa.scores(ones), sb.scores(ones)) for sa, sb in scorers]
    with np.errstate(invalid="ignore"):
        drawn = [(sa.scores(counts), sb.scores(counts)) for sa, sb in scorers] if ok else []
    for m in metrics:
        point = np.array([[pa[m][0], pb[m][0]] for pa, pb in points])
        per_seed = point[:, 0] - point[:, 1]
        result = {"a": float(np.mean(point[:, 0])), "b": float(np.mean(point[:, 1])),
                  "difference": float(np.mean(per_seed)), "ci": None, "p_value": None, "seed_ci": None,
                  "per_seed": [float(d) for d in per_seed]}
        if ok:
            diffs = np.stack([da[m] - db[m] for da, db in drawn])
            combined = np.full(n_boot, np.nan)
            some = ~np.isnan(diffs).all(axis=0)
            combined[some] = np.nanmean(diffs[:, some], axis=0)
            k = len(draws.names)
            result |= {"ci": percentile_interval(combined, level, k), "p_value": percentile_p(combined, k),
                       "seed_ci": seed_interval(per_seed, level), "draws": int(some.sum())}
        out[m] = result
    return out


def compare_runs(run_a: str | Path, run_b: str | Path, n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> dict:
    """Run A against run B on the same test images: for roc_auc and balanced_accuracy, each run's value (each
    at its own threshold), the difference A - B, its patient-bootstrap interval and the p-value that agrees
    with it (paired_differences). `decidable` and `reason` say whether the test patients can carry a verdict;
    when they cannot, `ci` and `p_value` are null."""
    a, b = read_run(run_a), read_run(run_b)
    _aligned(a, b)
    result = paired_differences([a], [b], n_boot, seed, level)
    out: dict = {"run_a": a.name, "run_b": b.name, "n_images": len(a.table), "n_patients": result["n_patients"],
                 "n_boot": result["n_boot"], "level": level, "decidable": result["decidable"],
                 "reason": result["reason"], "p_value_method": {m: METHOD for m in METRICS}}
    for m in METRICS:
        out[m] = {k: result[m][k] for k in ("a", "b", "difference", "ci", "p_value")}
    return out


def seed_difference(pairs: Sequence[tuple[str | Path | RunTest, str | Path | RunTest]], metric: str = "roc_auc",
                    paired: bool = True, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """The difference A - B of `metric` over several seeds, one (run_a, run_b) pair per seed (run folders or
    RunTests), by paired_differences: one patient draw shared by every run, so seeds that test the same
    patients are not counted as independent evidence, and seeds that test different patients are each scored on
    the drawn patients they hold. paired=True checks that each seed's two runs hold the same test images (an
    arm against another); paired=False allows two test sets (e.g. two splits)."""
    if metric not in METRICS:
        raise WorkbookError(f"unknown metric {metric!r}: choose one of {', '.join(METRICS)}")
    if not pairs:
        raise WorkbookError("seed_difference needs at least one (run_a, run_b) pair")
    tests = [(as_test(x), as_test(y)) for x, y in pairs]
    if paired:
        for x, y in tests:
            _aligned(x, y)
    result = paired_differences([x for x, _ in tests], [y for _, y in tests], n_boot, seed, level, (metric,))
    d = result[metric]
    per_seed = [{"run_a": x.name, "run_b": y.name, "difference": v} for (x, y), v in zip(tests, d["per_seed"],
                                                                                            strict=True)]
    return {"metric": metric, "difference": d["difference"], "ci": d["ci"], "p_value": d["p_value"],
            "seed_ci": d["seed_ci"], "n_seeds": len(tests),
            "seed_std": float(np.std(d["per_seed"], ddof=1)) if len(tests) > 1 else float("nan"),
            "dropped_draws": result["n_boot"] - d.get("draws", 0), "paired": paired, "n_boot": result["n_boot"],
            "n_patients": result["n_patients"], "decidable": result["decidable"], "reason": result["reason"],
            "per_seed": per_seed}


def training_gain(labels: np.ndarray, trained: np.ndarray, untrained: np.ndarray, patients: np.ndarray,
                  n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Did training change the ranking? The trained network's test ROC-AUC minus that of the same network as it
    started, on the same test images, by paired_differences (one patient draw for both). `untrained_roc_auc`
    is the start's; `gain` the difference, with its `ci` and `p_value` (None when the patients cannot carry a
    verdict, `reason` says why)."""
    table = pd.DataFrame({"path": np.arange(len(labels)).astype(str), "patient": np.asarray(patients).astype(str),
                          "label": np.asarray(labels).astype(int)})
    runs = [RunTest(name, table.assign(probability=np.asarray(p, dtype=float)), 0.5)
            for name, p in (("trained", trained), ("untrained", untrained))]
    d = paired_differences([runs[0]], [runs[1]], n_boot, seed, level, ("roc_auc",))
    r = d["roc_auc"]
    return {"untrained_roc_auc": r["b"], "gain": r["difference"], "ci": r["ci"], "p_value": r["p_value"],
            "n_patients": d["n_patients"], "decidable": d["decidable"], "reason": d["reason"], "method": METHOD}
