"""The ablation's statistics: the CNN-LSTM's arms against the CNN's, read from their run folders.

The difference is paired twice: by seed (the same split for both arms) and by test patient (the bootstrap
resamples the same patients for both arms). The arms are trained by `bc_helpers.training.experiments`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from .paired import METRICS, read_run, seed_difference


def _test_part(run_dir: Path) -> tuple[pd.DataFrame, float]:
    """A run's test predictions (path, patient, label, probability), sorted by path, and its threshold."""
    run = read_run(run_dir)
    return run.table, run.threshold


def _scores(y: np.ndarray, prob: np.ndarray, threshold: float) -> dict[str, float]:
    if len(np.unique(y)) < 2:
        return {m: float("nan") for m in METRICS}
    return {"roc_auc": float(roc_auc_score(y, prob)),
            "balanced_accuracy": float(balanced_accuracy_score(y, prob >= threshold))}


def verdict(ci: tuple[float, float]) -> str:
    """What an interval of the difference CNN-LSTM - CNN says about the claim that the LSTM helps."""
    low, high = ci
    if np.isnan(low) or np.isnan(high):
        return "inconclusive at this size"
    if low > 0:
        return "supported"
    if high < 0:
        return "not supported"
    return "inconclusive at this size"


def compare_arms(cnn_runs: list[Path], lstm_runs: list[Path], seeds: list[int], n_boot: int = 1000,
                 seed: int = 0, level: float = 0.95) -> dict:
    """ablation.json's content from the two arms' run folders (one per seed, in the same order)."""
    parts = [(*_test_part(a), *_test_part(b)) for a, b in zip(cnn_runs, lstm_runs, strict=True)]
    arms: dict[str, dict] = {}
    for name, runs, k in (("cnn", cnn_runs, 0), ("cnn_lstm", lstm_runs, 2)):
        per_seed = [{"seed": s, "run_dir": str(r), "threshold": p[k + 1],
                     **_scores(p[k]["label"].to_numpy(), p[k]["probability"].to_numpy(), p[k + 1])}
                    for s, r, p in zip(seeds, runs, parts, strict=True)]
        arms[name] = {"per_seed": per_seed, **{m: float(np.mean([r[m] for r in per_seed])) for m in METRICS}}
    difference = {}
    for m in METRICS:  # CNN-LSTM minus CNN: each seed's test patients resampled once for both arms
        d = seed_difference(list(zip(lstm_runs, cnn_runs, strict=True)), m, paired=True, n_boot=n_boot, seed=seed,
                            level=level)
        difference[m] = {"estimate": arms["cnn_lstm"][m] - arms["cnn"][m], "ci": d["ci"],
                         "verdict": verdict(tuple(d["ci"])), "draws": n_boot - d["dropped_draws"]}
    return {"seeds": list(seeds), "cnn": arms["cnn"], "cnn_lstm": arms["cnn_lstm"], "difference": difference,
            "level": level, "n_boot": n_boot, "test_patients": [int(p[0]["patient"].nunique()) for p in parts],
            "conclusion": conclusion(difference)}


def conclusion(difference: dict) -> str:
    """One sentence, computed from the ROC-AUC interval (the threshold-free metric)."""
    d = difference["roc_auc"]
    low, high = d["ci"]
    return (f"The claim that the LSTM improves on the same CNN is {d['verdict']}: ROC-AUC difference "
            f"{d['estimate']:+.3f} (95% interval {low:+.3f} to {high:+.3f}, paired by seed and test patient).")
