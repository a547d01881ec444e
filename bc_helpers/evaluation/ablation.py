"""The ablation's statistics: the CNN-LSTM against each other arm (the CNN without its LSTM, the LSTM fed its
rows shuffled, ...), read from run folders or from pooled out-of-fold predictions.

Every difference is paired twice: by seed or repeat (the same test images for every arm) and by test patient
(one bootstrap draw shared by every arm, seed and repeat; paired.paired_differences). The arms are trained by
`bc_helpers.training.experiments`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import WorkbookError
from .paired import METRICS, RunTest, _aligned, _scorer, as_test, paired_differences
from .resampling import verdict

REFERENCE = "cnn_lstm"
Runs = Sequence[str | Path | RunTest]


def _scores(run: RunTest) -> dict[str, float]:
    """A run's point estimates, by the scorer that also scores the bootstrap draws."""
    names = np.unique(run.table["patient"].astype(str))
    scored = _scorer(run, names).scores(np.ones((1, len(names))))
    return {m: float(scored[m][0]) for m in METRICS}


def _arm(tests: list[RunTest], seeds: Sequence[int]) -> dict:
    """One arm's per-seed scores and their means."""
    per_seed = [{"seed": s, "run_dir": t.name, "threshold": t.threshold, **_scores(t)}
                for s, t in zip(seeds, tests, strict=True)]
    return {"per_seed": per_seed, **{m: float(np.mean([r[m] for r in per_seed])) for m in METRICS}}


def _difference(result: dict, m: str) -> dict:
    d = result[m]
    return {"estimate": d["difference"], "ci": d["ci"], "seed_ci": d["seed_ci"], "p_value": d["p_value"],
            "verdict": verdict(d["ci"], result["decidable"]) if d["ci"] is not None else verdict((0, 0), False),
            "draws": d.get("draws", 0)}


def compare_arms(arms: Mapping[str, Runs], seeds: Sequence[int], reference: str = REFERENCE,
                 design: Mapping[str, int] | None = None, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> dict:
    """ablation.json's content: `arms` maps each arm's name to its runs, one per seed or repeat in the order of
    `seeds` (run folders, or RunTests such as one repeat's pooled out-of-fold predictions of a patient-grouped
    K-fold CV). Each arm is compared to `reference` (reference - arm) on the same test images. `design`
    gives `folds` and `repeats` (default: 1 fold, one repeat per seed). `difference` is the reference against
    the CNN (the paper's claim), `differences` every arm; the top-level `verdict` is the claim's, by ROC-AUC."""
    if reference not in arms or len(arms) < 2:
        raise WorkbookError(f"the ablation needs the arm {reference!r} and at least one other: got {sorted(arms)}")
    tests = {name: [as_test(r) for r in runs] for name, runs in arms.items()}
    for name, runs in tests.items():
        if len(runs) != len(seeds):
            raise WorkbookError(f"arm {name!r} has {len(runs)} runs for {len(seeds)} seeds")
        for ref, other in zip(tests[reference], runs, strict=True):
            _aligned(ref, other)
    others = [name for name in tests if name != reference]
    results = {name: paired_differences(tests[reference], tests[name], n_boot, seed, level) for name in others}
    differences = {name: {m: _difference(r, m) for m in METRICS} for name, r in results.items()}
    main = "cnn" if "cnn" in others else others[0]
    first = results[main]
    design = dict(design or {})
    out: dict = {"seeds": list(seeds), **{name: _arm(runs, seeds) for name, runs in tests.items()},
                 "reference": reference, "compared": main, "difference": differences[main],
                 "differences": differences, "level": level, "n_boot": n_boot,
                 "test_patients": [int(t.table["patient"].nunique()) for t in tests[reference]],
                 "design": {"folds": int(design.get("folds", 1)), "repeats": int(design.get("repeats", len(seeds))),
                            "n_patients": first["n_patients"], "n_test_patients": first["n_test_patients"]},
                 "decidable": first["decidable"], "reason": first["reason"],
                 "verdict": differences[main]["roc_auc"]["verdict"]}
    out["conclusion"] = conclusion(out["difference"], first["reason"], main)
    return out


def conclusion(difference: dict, reason: str = "", compared: str = "cnn") -> str:
    """One sentence, computed from the ROC-AUC interval (the threshold-free metric)."""
    d = difference["roc_auc"]
    what = "the LSTM improves on the same CNN" if compared == "cnn" else f"{REFERENCE} improves on {compared}"
    if d["ci"] is None:
        return (f"The claim that {what} cannot be decided here ({reason}): ROC-AUC difference "
                f"{d['estimate']:+.3f}, no interval.")
    low, high = d["ci"]
    return (f"The claim that {what} is {d['verdict']}: ROC-AUC difference {d['estimate']:+.3f} (95% interval "
            f"{low:+.3f} to {high:+.3f}, paired by seed and test patient). "
            + seed_clause(d.get("seed_ci"), d["verdict"] == "inconclusive"))


def seed_clause(seed_ci: Sequence[float] | None, inconclusive: bool = False) -> str:
    """What the interval over seeds (training variance) adds to the verdict of the patient interval."""
    low, high = (float(v) for v in seed_ci) if seed_ci is not None else (float("nan"), float("nan"))
    if np.isnan(low) or np.isnan(high):
        return "With one seed, the spread that training adds is not measured."
    if low <= 0 <= high:
        return (f"Over the seeds the difference's interval is {low:+.3f} to {high:+.3f} and includes 0: another "
                "training run could reverse it" + (", which adds to the uncertainty." if inconclusive else
                                                   ", so the verdict is about these trained models, not the method."))
    return f"Over the seeds, {low:+.3f} to {high:+.3f}: the spread that training adds does not reverse it."
