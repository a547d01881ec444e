"""train -> evaluate -> predict on a small synthetic sample, in temporary folders."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_idc_tree, write_png
from sklearn.metrics import roc_auc_score
from test_records import round_trips

from bc_helpers.errors import WorkbookError
from bc_helpers.runs import TrainConfig, prepare_run_dir
from bc_helpers.training.gridsearch import grouped_folds, search_arrays
from bc_helpers.training.inference import load_model, predict
from bc_helpers.training.trainer import train

EVALUATE_KEYS = {"accuracy", "sensitivity", "specificity", "precision", "f1", "balanced_accuracy", "roc_auc",
                 "pr_auc", "n_images", "n_patients", "threshold", "patient_level"}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bc_helpers", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def trained(tiny_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "cnn"
    out = _cli("train", "--dataset", "sample", "--data-dir", str(tiny_sample / "idc"), "--model", "cnn",
               "--epochs", "2", "--batch-size", "32", "--quiet", "--out", str(run))
    assert out.returncode == 0, out.stderr[-3000:]
    return run


def test_train_writes_a_complete_run_folder(trained: Path) -> None:
    for name in ("model.keras", "metrics.json", "config.json", "split.csv", "history.csv", "predictions.csv"):
        assert (trained / name).exists(), name
    metrics = json.loads((trained / "metrics.json").read_text())
    assert EVALUATE_KEYS <= metrics.keys() and metrics["synthetic"] is True and round_trips(metrics)
    assert metrics["epochs_run"] == 2 and 0 <= metrics["roc_auc"] <= 1
    lo, hi = metrics["ci"]["roc_auc"]
    assert lo - 1e-12 <= metrics["roc_auc"] <= hi + 1e-12  # the bootstrap scores patients its own way: ulps apart
    split = pd.read_csv(trained / "split.csv")
    assert split.groupby("patient")["part"].nunique().max() == 1
    preds = pd.read_csv(trained / "predictions.csv")
    assert set(preds["part"]) == {"val", "test"} and {"probability", "patient", "review"} <= set(preds.columns)
    test = preds[preds["part"] == "test"]
    assert len(test) == metrics["n_images"]
    assert ((test["probability"] >= metrics["threshold"]).astype(int) == test["predicted"]).all()
    config = json.loads((trained / "config.json").read_text())
    assert config["balance"]["method"] == "smote_hybrid"
    assert config["balance"]["after"]["0"] == config["balance"]["after"]["1"]


def test_a_run_records_its_untrained_start_and_what_training_gained(trained: Path) -> None:
    """untrained.csv: the network's test probabilities before its first step, in the order of predictions.csv's
    test rows; metrics.json's "untrained" compares the trained run with them on the same patients."""
    metrics = json.loads((trained / "metrics.json").read_text())
    test = pd.read_csv(trained / "predictions.csv").query("part == 'test'")
    untrained = pd.read_csv(trained / "untrained.csv")["probability"].to_numpy()
    assert len(untrained) == len(test) and not np.allclose(untrained, test["probability"])
    start = metrics["untrained"]
    assert start["untrained_roc_auc"] == pytest.approx(roc_auc_score(test["label"], untrained))
    assert start["gain"] == pytest.approx(metrics["roc_auc"] - start["untrained_roc_auc"])
    # the tiny sample tests too few patients for a verdict: the control says so instead of giving an interval
    assert not start["decidable"] and start["ci"] is None and "test patients" in start["reason"]


def test_threshold_follows_the_stated_rule_on_validation_data(trained: Path) -> None:
    """Youden's J on the validation images when validation holds enough patients of each class, else the
    quantile that calls the validation images' share of positives positive (the training prior, 0.5 after
    balancing, when validation holds one class); metrics.json names the rule and why."""
    from bc_helpers.evaluation.decisions import MIN_PATIENTS_PER_CLASS, patients_per_class, youden_threshold

    preds = pd.read_csv(trained / "predictions.csv", dtype={"patient": str})
    val = preds[preds["part"] == "val"]
    metrics = json.loads((trained / "metrics.json").read_text())
    enough = min(patients_per_class(val["label"].to_numpy(), val["patient"].to_numpy()).values()) \
        >= MIN_PATIENTS_PER_CLASS
    if enough:
        assert metrics["threshold_rule"] == "youden"
        assert metrics["threshold"] == pytest.approx(youden_threshold(val["label"], val["probability"]), abs=1e-6)
    elif val["label"].nunique() == 2:
        share = val["label"].mean()
        assert metrics["threshold_rule"] == "share"
        assert metrics["threshold"] == pytest.approx(np.quantile(val["probability"], 1 - share), abs=1e-6)
        assert "validation holds" in metrics["threshold_note"]
    else:
        assert metrics["threshold_rule"] == "prior" and metrics["threshold"] == 0.5
        assert "validation holds" in metrics["threshold_note"]


def test_evaluate_command_writes_the_json_contract(trained: Path, tiny_sample: Path, tmp_path: Path) -> None:
    out = _cli("evaluate", "--model", str(trained / "model.keras"), "--dataset", "sample",
               "--data-dir", str(tiny_sample / "idc"), "--out", str(tmp_path / "e.json"))
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads((tmp_path / "e.json").read_text())
    assert EVALUATE_KEYS <= result.keys()
    assert result["n_images"] == sum(1 for _ in (tiny_sample / "idc").rglob("*.png"))
    assert result["threshold"] == json.loads((trained / "metrics.json").read_text())["threshold"]


def test_predict_files_and_folders_and_reports_skips(trained: Path, tiny_sample: Path, tmp_path: Path) -> None:
    folder = next((tiny_sample / "idc").iterdir()) / "0"
    (tmp_path / "bad.png").write_bytes(b"")
    write_png(tmp_path / "rgba.png", mode="RGBA")
    out = _cli("predict", "--model", str(trained / "model.keras"), str(folder), str(tmp_path / "bad.png"),
               str(tmp_path / "rgba.png"))
    assert out.returncode == 0, out.stderr[-2000:]
    rows = out.stdout.strip().splitlines()
    assert rows[0] == "path,probability,predicted,review"
    assert len(rows) - 1 == len(list(folder.glob("*.png"))) + 1
    assert "skipped" in out.stderr and "bad.png: empty file (0 bytes)" in out.stderr
    frame, skipped = predict(trained / "model.keras", [folder])
    assert frame["probability"].between(0, 1).all() and skipped == []


def test_predict_gives_the_probability_of_the_cached_training_row(trained: Path, tmp_path: Path) -> None:
    """No train/serve skew: a file predicted alone is fitted as the cache fits it, IDC edge patches included."""
    from bc_helpers.data.cache import load_images
    from bc_helpers.data.datasets import index_dataset
    from bc_helpers.data.layouts import idc_path
    from bc_helpers.training.inference import predict_probabilities

    root = make_idc_tree(tmp_path / "d", {"101": (2, 1)})
    write_png(idc_path(root, "101", 901, 1, 1), size=(50, 42), seed=5)  # an edge patch: cut at the bottom
    write_png(idc_path(root, "101", 951, 1, 0), size=(37, 50), seed=6)  # and one cut at the right
    index = index_dataset("idc", root)
    cached = predict_probabilities(load_model(trained / "model.keras"), load_images(index, 50, progress=False))
    frame, skipped = predict(trained / "model.keras", [root])
    assert skipped == [] and len(frame) == len(index.table) == 5
    alone = frame.set_index("path").loc[index.table["path"], "probability"].to_numpy()
    np.testing.assert_allclose(alone, cached, rtol=1e-5, atol=1e-6)


def test_model_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(WorkbookError, match="no model file"):
        load_model(tmp_path / "missing.keras")
    (tmp_path / "fake.keras").write_text("not a model")
    with pytest.raises(WorkbookError, match="not a Keras model file"):
        load_model(tmp_path / "fake.keras")
    out = _cli("predict", "--model", str(tmp_path / "fake.keras"), str(tmp_path))
    assert out.returncode == 2 and "not a Keras model file" in out.stderr and "Traceback" not in out.stderr


def test_a_finished_run_is_never_overwritten(trained: Path) -> None:
    config = TrainConfig(**{**json.loads((trained / "config.json").read_text())["train"]})
    with pytest.raises(WorkbookError, match="Nothing was overwritten"):
        prepare_run_dir(trained, config)
    renamed = prepare_run_dir(trained, config, if_exists="rename")
    assert renamed == Path(f"{trained}-2") and renamed.is_dir()
    (renamed / "other.txt").write_text("another run")  # -2 taken: the next name is -3
    third = prepare_run_dir(trained, config, if_exists="rename")
    assert third == Path(f"{trained}-3") and third.is_dir()
    third.rmdir()
    (renamed / "other.txt").unlink()
    renamed.rmdir()
    before = (trained / "metrics.json").read_text()
    assert train(config, trained, if_exists="reuse") == json.loads(before)
    other = TrainConfig(**{**config.__dict__, "epochs": 7})
    with pytest.raises(WorkbookError):
        prepare_run_dir(trained, other, if_exists="reuse")
    assert (trained / "metrics.json").read_text() == before


def test_commands_reject_bad_arguments(tiny_sample: Path, tmp_path: Path) -> None:
    out = _cli("train", "--model", "vgg16", "--image-size", "16", "--dataset", "sample",
               "--data-dir", str(tiny_sample / "idc"), "--out", str(tmp_path / "r"))
    assert out.returncode == 2 and "vgg16 needs image_size >= 32" in out.stderr
    out = _cli("train", "--model", "cnn", "--protocol", "random", "--out", str(tmp_path / "r"))
    assert out.returncode == 2 and "invalid choice: 'random'" in out.stderr


def test_grouped_folds_never_split_a_patient() -> None:
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(15), 20)
    labels = (rng.random(300) < np.repeat(rng.random(15), 20)).astype(int)
    for fit, val in grouped_folds(labels, groups, 5, seed=0):
        assert not set(groups[fit]) & set(groups[val])


def test_grid_search_scores_every_setting_and_returns_the_best(tiny_sample: Path) -> None:
    from bc_helpers.data.cache import load_images
    from bc_helpers.data.datasets import index_dataset

    index = index_dataset("sample", tiny_sample / "idc")
    images = load_images(index, 50, progress=False)
    rows = np.arange(len(index.table))
    grid = {"filters": [(4, 8, 8)], "lstm_units": [4, 8]}
    result = search_arrays(images, rows, index.table["label"].to_numpy(), index.table["patient"].to_numpy(), grid,
                         folds=3, epochs=1, image_size=24, verbose=False)
    assert len(result.folds) == 6 and len(result.table) == 2
    assert {"mean_roc_auc", "std_roc_auc", "mean_balanced_accuracy"} <= set(result.table.columns)
    assert result.best in [{"filters": (4, 8, 8), "lstm_units": u} for u in (4, 8)]
    assert str(result.best["lstm_units"]) == result.table.loc[0, "lstm_units"]


def test_train_in_process_with_class_weights_and_paper_protocol(tiny_sample: Path, tmp_path: Path) -> None:
    config = TrainConfig(data_dir=str(tiny_sample / "idc"), model="cnn", epochs=1, protocol="paper",
                         balance="class_weight", image_size=24)
    metrics = train(config, tmp_path / "paper", verbose=0)
    assert metrics["leak"]["test_images_with_patient_in_train"] > 0.9
    assert metrics["protocol"] == "paper"
    assert metrics["labels"] == "true" and "control" not in metrics


def test_train_model_reuses_a_run_of_the_same_settings_beside_the_first(tiny_sample: Path, tmp_path: Path) -> None:
    from bc_helpers.course.notebook import train_model

    base = TrainConfig(data_dir=str(tiny_sample / "idc"), model="cnn", epochs=1, image_size=24,
                       balance="class_weight", hparams={"filters": [4], "dense": 8})
    first, _ = train_model(base, tmp_path)
    other = replace(base, learning_rate=3e-4)
    second, metrics = train_model(other, tmp_path)
    assert (first.name, second.name) == ("cnn", "cnn-2")
    written = (second / "metrics.json").stat().st_mtime_ns
    again, reused = train_model(other, tmp_path)  # re-running the cell: the finished run beside is reused
    assert again == second and reused["roc_auc"] == metrics["roc_auc"]
    assert (second / "metrics.json").stat().st_mtime_ns == written  # not trained again
    assert not (tmp_path / "sample" / "patient" / "cnn-3").exists()


def test_random_labels_give_each_patient_one_label_and_say_so(tiny_sample: Path, tmp_path: Path) -> None:
    config = TrainConfig(data_dir=str(tiny_sample / "idc"), model="cnn", epochs=1, balance="class_weight",
                         image_size=24, labels="random", hparams={"filters": [4], "dense": 8})
    metrics = train(config, tmp_path / "random", verbose=0)
    assert metrics["labels"] == "random" and metrics["control"] is True
    split = pd.read_csv(tmp_path / "random" / "split.csv")
    assert (split.groupby("patient")["label"].nunique() == 1).all()
    assert {"train", "val", "test"} == set(split["part"])
    for part in ("train", "test"):
        assert set(split.loc[split["part"] == part, "label"]) == {0, 1}
    with pytest.raises(WorkbookError, match="unknown labels 'shuffled'"):
        TrainConfig(labels="shuffled")
