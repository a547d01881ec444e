"""The paper's central claim as an experiment: the CNN-LSTM against the same network with its LSTM replaced by a
dense layer of matched capacity.

Both arms share the data, the split, the balancing, the training budget and the seeds; only the LSTM differs.
The cohort's ablation, with the row-shuffled arm too, runs by cross-validation (`training.crossval`).
`bc_helpers.evaluation.ablation` compares them.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

from ..evaluation.ablation import compare_arms
from ..files import write_json_atomic
from ..models.pool import ModelPool, shared_pool
from ..runs.folders import ABLATION_FILE, ARMS, TrainConfig, arm_dir, same_config
from .trainer import train


def cnn_arm(config: TrainConfig) -> TrainConfig:
    """The CNN-LSTM's config with the LSTM replaced by a dense layer of matched capacity
    (`models.hybrid.cnn_matched`): the same conv blocks, dropouts in the same places, the same hyperparameters and
    budget. The plain `cnn` differed in more than the LSTM (its dropout placement, a head of other size)."""
    return replace(config, model="cnn_matched")


def arm_configs(config: TrainConfig, seeds: list[int]) -> dict[int, dict[str, TrainConfig]]:
    """For each seed, the two arms' configs (the split, balancing and initial weights follow the seed)."""
    lstm = replace(config, model="cnn_lstm")
    return {s: {"cnn": replace(cnn_arm(lstm), seed=s), "cnn_lstm": replace(lstm, seed=s)} for s in seeds}


def train_arm(config: TrainConfig, folder: Path, pool: ModelPool | None = None) -> Path:
    """Train one arm into `folder`; a finished run of the same settings there is reused, and a folder holding
    other settings is never overwritten (the run goes beside it, -2, -3, ...). Returns the run's folder."""
    metrics = train(config, folder, if_exists="reuse" if same_config(folder, config) else "rename", verbose=0,
                    pool=shared_pool() if pool is None else pool)
    return Path(metrics["run_dir"])


def run_ablation(config: TrainConfig, root: str | Path, seeds: list[int], main_run: str | Path,
                 pool: ModelPool | None = None) -> dict:
    """Train both arms for every seed and compare them; `main_run` is the notebook's CNN-LSTM run of `config`
    (reused for its own seed). Writes ablation.json into `main_run` and returns its content. `pool`: each arm's
    compiled model is reused across seeds (bc_helpers.models.pool)."""
    main_run = Path(main_run)
    runs: dict[str, list[Path]] = {arm: [] for arm in ARMS}
    for arms in arm_configs(config, seeds).values():
        for arm, arm_config in arms.items():
            mine = arm == "cnn_lstm" and arm_config == replace(config, model="cnn_lstm")
            runs[arm].append(main_run if mine else train_arm(arm_config, arm_dir(root, arm_config), pool))
    result = compare_arms(runs, seeds, seed=config.seed)
    result["config"] = {"dataset": config.dataset, "protocol": config.protocol, "epochs": config.epochs,
                        "balance": config.balance, "image_size": config.image_size,
                        "learning_rate": config.learning_rate, "hparams": asdict(config)["hparams"]}
    write_json_atomic(main_run / ABLATION_FILE, result)
    return result
