"""The paper's central claim as an experiment: the CNN-LSTM against the same CNN without its LSTM.

Both arms share the data, the split, the balancing, the training budget and the seeds; only the LSTM differs.
The difference is paired twice: by seed (the same split for both arms) and by test patient (the bootstrap
resamples the same patients for both arms).
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from .files import write_json_atomic
from .runs import TrainConfig, run_path, same_config

ARMS = ("cnn", "cnn_lstm")
METRICS = ("roc_auc", "balanced_accuracy")
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


def train_arm(config: TrainConfig, folder: Path) -> Path:
    """Train one arm into `folder`; a finished run of the same settings there is reused, and a folder holding
    other settings is never overwritten (the run goes beside it, -2, -3, ...). Returns the run's folder."""
    from .training import train

    metrics = train(config, folder, if_exists="reuse" if same_config(folder, config) else "rename", verbose=0)
    return Path(metrics["run_dir"])


def run_ablation(config: TrainConfig, root: str | Path, seeds: list[int], main_run: str | Path) -> dict:
    """Train both arms for every seed and compare them; `main_run` is the notebook's CNN-LSTM run of `config`
    (reused for its own seed). Writes ablation.json into `main_run` and returns its content."""
    main_run = Path(main_run)
    runs: dict[str, list[Path]] = {arm: [] for arm in ARMS}
    for arms in arm_configs(config, seeds).values():
        for arm, arm_config in arms.items():
            mine = arm == "cnn_lstm" and arm_config == replace(config, model="cnn_lstm")
            runs[arm].append(main_run if mine else train_arm(arm_config, arm_dir(root, arm_config)))
    result = compare_arms(runs["cnn"], runs["cnn_lstm"], seeds, seed=config.seed)
    result["config"] = {"dataset": config.dataset, "protocol": config.protocol, "epochs": config.epochs,
                        "balance": config.balance, "image_size": config.image_size,
                        "learning_rate": config.learning_rate, "hparams": asdict(config)["hparams"]}
    write_json_atomic(main_run / FILE, result)
    return result


def _test_part(run_dir: Path) -> tuple[pd.DataFrame, float]:
    """A run's test predictions (path, patient, label, probability) and its threshold."""
    frame = pd.read_csv(run_dir / "predictions.csv", dtype={"patient": str})
    threshold = json.loads((run_dir / "metrics.json").read_text())["threshold"]
    return frame[frame["part"] == "test"].sort_values("path").reset_index(drop=True), float(threshold)


def _scores(y: np.ndarray, prob: np.ndarray, threshold: float) -> dict[str, float]:
    if len(np.unique(y)) < 2:
        return {m: float("nan") for m in METRICS}
    return {"roc_auc": float(roc_auc_score(y, prob)),
            "balanced_accuracy": float(balanced_accuracy_score(y, prob >= threshold))}


def paired_patient_bootstrap(pairs: list[tuple[pd.DataFrame, float, pd.DataFrame, float]], n_boot: int = 1000,
                             seed: int = 0) -> dict[str, np.ndarray]:
    """Bootstrap draws of the mean (over seeds) difference B - A in each metric.

    Each pair is (test predictions of A, A's threshold, test predictions of B, B's threshold) on the same test
    images; a draw resamples whole test patients with replacement, the same patients for A and B. Draws in
    which a resample holds one class only are dropped."""
    rng = np.random.default_rng(seed)
    prepared = []
    for a, ta, b, tb in pairs:
        if not a["path"].equals(b["path"]):
            raise ValueError("the two arms were tested on different images: they did not share the split")
        groups = [np.flatnonzero(a["patient"].to_numpy() == p) for p in a["patient"].unique()]
        prepared.append((a["label"].to_numpy(), a["probability"].to_numpy(), ta, b["probability"].to_numpy(), tb,
                         groups))
    draws: dict[str, list[float]] = {m: [] for m in METRICS}
    for _ in range(n_boot):
        per_seed = []
        for y, pa, ta, pb, tb, groups in prepared:
            rows = np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))])
            sa, sb = _scores(y[rows], pa[rows], ta), _scores(y[rows], pb[rows], tb)
            per_seed.append({m: sb[m] - sa[m] for m in METRICS})
        for m in METRICS:
            values = [d[m] for d in per_seed]
            if not np.isnan(values).any():
                draws[m].append(float(np.mean(values)))
    return {m: np.asarray(v) for m, v in draws.items()}


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
    draws = paired_patient_bootstrap(parts, n_boot, seed)
    alpha = (1 - level) / 2
    difference = {}
    for m in METRICS:
        ci = [float(np.quantile(draws[m], alpha)), float(np.quantile(draws[m], 1 - alpha))] if len(draws[m]) \
            else [float("nan")] * 2
        difference[m] = {"estimate": arms["cnn_lstm"][m] - arms["cnn"][m], "ci": ci, "verdict": verdict(tuple(ci)),
                         "draws": int(len(draws[m]))}
    return {"seeds": list(seeds), "cnn": arms["cnn"], "cnn_lstm": arms["cnn_lstm"], "difference": difference,
            "level": level, "n_boot": n_boot, "test_patients": [int(p[0]["patient"].nunique()) for p in parts],
            "conclusion": conclusion(difference)}


def conclusion(difference: dict) -> str:
    """One sentence, computed from the ROC-AUC interval (the threshold-free metric)."""
    d = difference["roc_auc"]
    low, high = d["ci"]
    return (f"The claim that the LSTM improves on the same CNN is {d['verdict']}: ROC-AUC difference "
            f"{d['estimate']:+.3f} (95% interval {low:+.3f} to {high:+.3f}, paired by seed and test patient).")
