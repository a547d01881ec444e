"""The paper's central claim as an experiment: the CNN-LSTM against the same CNN without its LSTM.

Both arms share the data, the split, the balancing, the training budget and the seeds; only the LSTM differs.
The difference is paired twice: by seed (the same split for both arms) and by test patient (the bootstrap
resamples the same patients for both arms).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from .files import write_json_atomic
from .paired import METRICS, read_run, seed_difference
from .runs import TrainConfig, run_path, same_config

if TYPE_CHECKING:  # importing it imports TensorFlow
    from .modelpool import ModelPool

ARMS = ("cnn", "cnn_lstm")
ABLATION_DIR = "ablation"  # under <RUN_DIR>/<dataset>/<protocol>/: the arms that are not the notebook's main run
FILE = "ablation.json"
# The CNN-LSTM's hyperparameters that the CNN arm shares: its convolutional blocks and its dense layer.
SHARED = ("filters", "kernel_size", "activation", "pooling", "l2", "dense", "output", "augment")
CNN_LSTM_DENSE = 64  # cnn_lstm's default dense width, given to the CNN arm unless the setting names one


def cnn_arm(config: TrainConfig) -> TrainConfig:
    """The CNN-LSTM's config with the LSTM taken out: `bc_helpers.models.cnn` with the same conv blocks,
    the same dense width and the CNN-LSTM's dropout after its conv blocks; everything else unchanged."""
    hparams = {k: v for k, v in config.hparams.items() if k in SHARED}
    hparams.setdefault("dense", CNN_LSTM_DENSE)
    hparams["dropout"] = config.hparams.get("conv_dropout", 0.5)
    return replace(config, model="cnn", hparams=hparams)


def arm_configs(config: TrainConfig, seeds: list[int]) -> dict[int, dict[str, TrainConfig]]:
    """For each seed, the two arms' configs (the split, balancing and initial weights follow the seed)."""
    lstm = replace(config, model="cnn_lstm")
    return {s: {"cnn": replace(cnn_arm(lstm), seed=s), "cnn_lstm": replace(lstm, seed=s)} for s in seeds}


def arm_dir(root: str | Path, config: TrainConfig) -> Path:
    """Where an arm other than the notebook's main run lives: <root>/<dataset>/<protocol>/ablation/seed-<k>/<model>."""
    return run_path(root, config).parent / ABLATION_DIR / f"seed-{config.seed}" / config.model


def train_arm(config: TrainConfig, folder: Path, pool: ModelPool | None = None) -> Path:
    """Train one arm into `folder`; a finished run of the same settings there is reused, and a folder holding
    other settings is never overwritten (the run goes beside it, -2, -3, ...). Returns the run's folder."""
    from .training import train

    metrics = train(config, folder, if_exists="reuse" if same_config(folder, config) else "rename", verbose=0,
                    pool=pool)
    return Path(metrics["run_dir"])


def run_ablation(config: TrainConfig, root: str | Path, seeds: list[int], main_run: str | Path,
                 pool: ModelPool | None = None) -> dict:
    """Train both arms for every seed and compare them; `main_run` is the notebook's CNN-LSTM run of `config`
    (reused for its own seed). Writes ablation.json into `main_run` and returns its content. `pool`: each arm's
    compiled model is reused across seeds (bc_helpers.modelpool)."""
    main_run = Path(main_run)
    runs: dict[str, list[Path]] = {arm: [] for arm in ARMS}
    for arms in arm_configs(config, seeds).values():
        for arm, arm_config in arms.items():
            mine = arm == "cnn_lstm" and arm_config == replace(config, model="cnn_lstm")
            runs[arm].append(main_run if mine else train_arm(arm_config, arm_dir(root, arm_config), pool))
    result = compare_arms(runs["cnn"], runs["cnn_lstm"], seeds, seed=config.seed)
    result["config"] = {"dataset": config.dataset, "protocol": config.protocol, "epochs": config.epochs,
                        "balance": config.balance, "image_size": config.image_size,
                        "learning_rate": config.learning_rate, "hparams": asdict(config)["hparams"]}
    write_json_atomic(main_run / FILE, result)
    return result


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
