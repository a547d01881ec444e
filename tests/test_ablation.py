"""The ablation's arms, its paired bootstrap by patient, its verdict, and the selection of runs by settings."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bc_helpers.errors import WorkbookError
from bc_helpers.evaluation import ablation, selection
from bc_helpers.runs import TrainConfig, arm_dir
from bc_helpers.training import experiments


def _fake_run(folder: Path, config: TrainConfig, prob: np.ndarray, labels: np.ndarray, patients: np.ndarray) -> Path:
    """A finished run folder as `train` writes it, with the given test probabilities (threshold 0.5)."""
    folder.mkdir(parents=True)
    frame = pd.DataFrame({"path": [f"img{i:03d}.png" for i in range(len(prob))], "patient": patients,
                          "label": labels, "part": "test", "probability": prob})
    frame.to_csv(folder / "predictions.csv", index=False)
    (folder / "config.json").write_text(json.dumps({"train": config.__dict__}))
    (folder / "metrics.json").write_text(json.dumps({"threshold": 0.5}))
    return folder


def _test_set(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.tile([0, 1], 100)
    return labels, rng.normal(size=200), np.repeat(np.arange(20), 10).astype(str)


def test_the_cnn_arm_is_the_matched_cnn_with_every_setting_of_the_cnn_lstm() -> None:
    config = TrainConfig(model="cnn_lstm", epochs=4, learning_rate=3e-4, seed=2,
                         hparams={"filters": [16, 32, 64], "lstm_units": 32, "conv_dropout": 0.3})
    arm = experiments.cnn_arm(config)
    assert arm.model == "cnn_matched" and (arm.epochs, arm.learning_rate, arm.seed) == (4, 3e-4, 2)
    assert arm.hparams == config.hparams  # cnn_matched takes every hyperparameter of the CNN-LSTM
    arms = experiments.arm_configs(config, [0, 5])
    assert [a["cnn_lstm"].seed for a in arms.values()] == [0, 5] and arms[5]["cnn"].seed == 5


def test_a_better_arm_is_supported_and_identical_arms_are_inconclusive(tmp_path: Path) -> None:
    cnn, lstm, same = [], [], []
    for seed in (0, 1):
        labels, noise, patients = _test_set(seed)
        config = TrainConfig(seed=seed)
        weak = 1 / (1 + np.exp(-(0.6 * (labels - 0.5) + noise)))
        strong = 1 / (1 + np.exp(-(3.0 * (labels - 0.5) + noise)))
        cnn.append(_fake_run(tmp_path / f"cnn{seed}", config, weak, labels, patients))
        lstm.append(_fake_run(tmp_path / f"lstm{seed}", config, strong, labels, patients))
        same.append(_fake_run(tmp_path / f"same{seed}", config, weak, labels, patients))
    better = ablation.compare_arms(cnn, lstm, [0, 1], n_boot=300)
    assert better["difference"]["roc_auc"]["verdict"] == "supported"
    assert better["difference"]["roc_auc"]["estimate"] == pytest.approx(
        better["cnn_lstm"]["roc_auc"] - better["cnn"]["roc_auc"])
    assert "is supported" in better["conclusion"] and better["test_patients"] == [20, 20]
    worse = ablation.compare_arms(lstm, cnn, [0, 1], n_boot=300)
    assert worse["difference"]["balanced_accuracy"]["verdict"] == "not supported"
    tie = ablation.compare_arms(cnn, same, [0, 1], n_boot=300)
    assert tie["difference"]["roc_auc"]["estimate"] == 0 and tie["difference"]["roc_auc"]["ci"] == [0, 0]
    assert tie["difference"]["roc_auc"]["verdict"] == "inconclusive at this size"


def test_arms_on_different_test_images_are_refused(tmp_path: Path) -> None:
    labels, noise, patients = _test_set(0)
    a = _fake_run(tmp_path / "a", TrainConfig(), noise, labels, patients)
    b = _fake_run(tmp_path / "b", TrainConfig(), noise[:-2], labels[:-2], patients[:-2])
    with pytest.raises(WorkbookError, match="different test images"):
        ablation.compare_arms([a], [b], [0], n_boot=10)


def test_runs_are_selected_by_settings_and_ablation_arms_kept_apart(tmp_path: Path, tiny_sample: Path) -> None:
    from bc_helpers.training.trainer import train

    base = TrainConfig(data_dir=str(tiny_sample / "idc"), model="cnn", epochs=1, image_size=24, balance="class_weight")
    train(base, tmp_path / "sample" / "patient" / "cnn", verbose=0)
    train(TrainConfig(**{**base.__dict__, "seed": 1}), tmp_path / "sample" / "patient" / "cnn-2", verbose=0)
    arm = TrainConfig(**{**base.__dict__, "seed": 1})
    train(arm, arm_dir(tmp_path, arm), verbose=0)
    runs, left_out = selection.select_runs(tmp_path, seed=0)
    assert runs["run_dir"].tolist() == [str(tmp_path / "sample" / "patient" / "cnn")]
    assert left_out["run_dir"].tolist() == [str(tmp_path / "sample" / "patient" / "cnn-2")]
    assert "seed=1, not 0" in left_out["reason"].iat[0]
    assert selection.settings_table(runs)["seed"].tolist() == [0]
