"""The ablation's arms, its paired bootstrap by patient, its verdict, and the selection of runs by settings."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes import write_run
from sklearn.metrics import roc_auc_score

from bc_helpers.errors import WorkbookError
from bc_helpers.evaluation import ablation, selection
from bc_helpers.evaluation.leakage import leak_statistics, leakage_row
from bc_helpers.evaluation.paired import RunTest
from bc_helpers.runs import TrainConfig, arm_dir
from bc_helpers.training import experiments


def _fake_run(folder: Path, config: TrainConfig, prob: np.ndarray, labels: np.ndarray, patients: np.ndarray) -> Path:
    return write_run(folder, labels, prob, patients, config=config.__dict__)


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
    better = ablation.compare_arms({"cnn": cnn, "cnn_lstm": lstm, "cnn_lstm_shuffled": same}, [0, 1], n_boot=300)
    assert better["difference"]["roc_auc"]["verdict"] == "supported" and better["verdict"] == "supported"
    assert better["difference"]["roc_auc"]["estimate"] == pytest.approx(
        better["cnn_lstm"]["roc_auc"] - better["cnn"]["roc_auc"])
    assert better["cnn"]["roc_auc"] == pytest.approx(np.mean([roc_auc_score(_test_set(s)[0], pd.read_csv(
        r / "predictions.csv").query("part == 'test'")["probability"]) for s, r in zip((0, 1), cnn, strict=True)]))
    assert better["differences"]["cnn_lstm_shuffled"]["roc_auc"]["verdict"] == "supported"
    assert "is supported" in better["conclusion"] and better["test_patients"] == [20, 20]
    assert better["design"] == {"folds": 1, "repeats": 2, "n_patients": 20, "n_test_patients": 20}
    low, high = better["difference"]["roc_auc"]["seed_ci"]
    assert low < better["difference"]["roc_auc"]["estimate"] < high
    assert better["conclusion"].endswith(ablation.seed_clause([low, high]))  # training variance beside the verdict
    assert ablation.seed_clause([-0.1, 0.2], inconclusive=True).endswith("which adds to the uncertainty.")
    assert "includes 0: another training run could reverse it" in ablation.seed_clause([-0.1, 0.2])
    assert ablation.seed_clause([0.01, 0.2]).endswith("does not reverse it.")
    assert ablation.seed_clause([float("nan"), float("nan")]).startswith("With one seed")
    worse = ablation.compare_arms({"cnn": lstm, "cnn_lstm": cnn}, [0, 1], n_boot=300)
    assert worse["difference"]["balanced_accuracy"]["verdict"] == "not supported"
    tie = ablation.compare_arms({"cnn": cnn, "cnn_lstm": same}, [0, 1], n_boot=300)
    assert tie["difference"]["roc_auc"]["estimate"] == 0 and tie["difference"]["roc_auc"]["ci"] == [0, 0]
    assert tie["verdict"] == "inconclusive"


def test_pooled_out_of_fold_repeats_and_too_few_patients(tmp_path: Path) -> None:
    """Repeats of a patient-grouped K-fold CV as RunTests (each fold's own threshold per row); an arm
    tested on 6 patients is refused."""
    labels, noise, patients = _test_set(0)
    table = pd.DataFrame({"path": [f"i{k}" for k in range(200)], "patient": patients, "label": labels,
                          "threshold": np.where(np.arange(200) < 100, 0.4, 0.6)})
    repeats = {arm: [RunTest(f"{arm}{r}", table.assign(probability=1 / (1 + np.exp(-(g * (labels - 0.5) + noise)))),
                             0.5) for r in range(3)] for arm, g in (("cnn", 0.5), ("cnn_lstm", 3.0))}
    out = ablation.compare_arms(repeats, [0, 1, 2], design={"folds": 5, "repeats": 3}, n_boot=200)
    assert out["design"] == {"folds": 5, "repeats": 3, "n_patients": 20, "n_test_patients": 20}
    assert out["verdict"] == "supported"
    few = table[table["patient"].astype(int) < 6]
    tiny = {arm: [RunTest(arm, few.assign(probability=few["label"] * g), 0.5)] for arm, g in (("cnn", 1),
                                                                                          ("cnn_lstm", 2))}
    refused = ablation.compare_arms(tiny, [0], n_boot=50)
    assert refused["verdict"] == "too few patients" and refused["difference"]["roc_auc"]["ci"] is None
    assert "cannot be decided" in refused["conclusion"]


def test_the_leak_is_scored_on_the_same_images_and_makes_a_row(tmp_path: Path) -> None:
    labels, noise, patients = _test_set(1)
    honest = [_fake_run(tmp_path / "p", TrainConfig(), 1 / (1 + np.exp(-(0.5 * (labels - 0.5) + noise))), labels,
                        patients)]
    leaky = [_fake_run(tmp_path / "i", TrainConfig(), 1 / (1 + np.exp(-(3 * (labels - 0.5) + noise))), labels,
                       patients)]
    row = leakage_row("sample", "cnn", "true", "paper", "youden", honest, leaky, n_boot=200)
    assert set(row) >= {"dataset", "model", "labels", "image_protocol", "n_seeds", "n_patients", "threshold_rule",
                        "patient", "image", "inflation", "decidable", "reason", "verdict"}
    inflation = row["inflation"]["roc_auc"]
    assert inflation["estimate"] == pytest.approx(row["image"]["roc_auc"] - row["patient"]["roc_auc"])
    assert inflation["ci"][0] > 0 and row["verdict"] == "supported" and row["n_seeds"] == 1
    other = _fake_run(tmp_path / "o", TrainConfig(), 1 / (1 + np.exp(-noise[:-2])), labels[:-2], patients[:-2])
    with pytest.raises(WorkbookError, match="different test images"):
        leak_statistics(honest, [other])


def test_arms_on_different_test_images_are_refused(tmp_path: Path) -> None:
    labels, noise, patients = _test_set(0)
    scores = 1 / (1 + np.exp(-noise))
    a = _fake_run(tmp_path / "a", TrainConfig(), scores, labels, patients)
    b = _fake_run(tmp_path / "b", TrainConfig(), scores[:-2], labels[:-2], patients[:-2])
    with pytest.raises(WorkbookError, match="different test images"):
        ablation.compare_arms({"cnn": [a], "cnn_lstm": [b]}, [0], n_boot=10)


def test_runs_are_selected_by_settings_and_ablation_arms_kept_apart(tmp_path: Path, tiny_sample: Path) -> None:
    from bc_helpers.training.trainer import train

    base = TrainConfig(data_dir=str(tiny_sample / "idc"), model="cnn", epochs=1, image_size=24, balance="class_weight")
    train(base, tmp_path / "sample" / "patient" / "cnn", verbose=0)
    train(TrainConfig(**{**base.__dict__, "seed": 1}), tmp_path / "sample" / "patient" / "cnn-2", verbose=0)
    arm = TrainConfig(**{**base.__dict__, "seed": 1})
    train(arm, arm_dir(tmp_path, arm), verbose=0)
    runs, left_out = selection.select_runs(tmp_path, seed=0, balance=None)  # None: any balancing
    assert runs["run_dir"].tolist() == [str(tmp_path / "sample" / "patient" / "cnn")]
    assert left_out["run_dir"].tolist() == [str(tmp_path / "sample" / "patient" / "cnn-2")]
    assert selection.select_runs(tmp_path, seed=0, balance="smote_hybrid")[0].empty  # these ran class_weight
    assert "seed=1, not 0" in left_out["reason"].iat[0]
    assert selection.settings_table(runs)["seed"].tolist() == [0]
    assert selection.settings_table(runs)["learning_rate"].tolist() == [f"{base.learning_rate:g}"]
    stage = TrainConfig(**{**base.__dict__, "hparams": {"dense": 8}})  # a later stage, newer than the main run
    train(stage, tmp_path / "sample" / "patient" / "cnn_head", verbose=0)
    runs, left_out = selection.select_runs(tmp_path, seed=0)
    assert runs["run_dir"].tolist() == [str(tmp_path / "sample" / "patient" / "cnn")]
    reasons = dict(zip(left_out["run_dir"], left_out["reason"], strict=True))
    head = str(tmp_path / "sample" / "patient" / "cnn_head")
    assert reasons[head] == "another stage of the model (its main run is used)"
