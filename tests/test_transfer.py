"""The backbone of 06's transfer stages: ImageNet where it loads, else the other dataset's from-scratch run, named
as what it is, with one sentence that never shows an absolute path and says when that run collapsed."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bc_helpers.course import notebook, transfer
from bc_helpers.course.transfer import Backbone, pretrained_backbone, scratch_run
from bc_helpers.errors import WorkbookError
from bc_helpers.runs.config import TrainConfig

CONFIG = TrainConfig(dataset="sample", model="vgg16", image_size=32, epochs=2, learning_rate=1e-4,
                     hparams={"weights": None})
LEARNED = pd.DataFrame({"accuracy": [0.62, 0.81], "loss": [0.66, 0.44]})
FLAT = pd.DataFrame({"accuracy": [0.47, 0.48], "loss": [0.7267, 0.7251]})


def fake_run(folder: Path, dataset: str = "sample_breakhis", image_size: int = 32, weights: str | None = None,
             collapsed: bool = False) -> Path:
    """A finished vgg16 run folder: config.json, metrics.json, predictions.csv, history.csv (no model)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"train": {
        "dataset": dataset, "model": "vgg16", "image_size": image_size, "hparams": {"weights": weights}}}))
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(40), np.zeros(60)].astype(int)
    spread = np.clip(0.3 * labels + rng.uniform(0, 0.7, 100), 0, 1)
    probability = 0.5 + rng.normal(0, 1e-4, 100) if collapsed else spread
    pd.DataFrame({"part": "test", "path": [f"p{i}.png" for i in range(100)],
                  "patient": [str(i % 16) for i in range(100)], "label": labels,
                  "probability": probability}).to_csv(folder / "predictions.csv", index=False)
    (FLAT if collapsed else LEARNED).to_csv(folder / "history.csv", index=False)
    (folder / "metrics.json").write_text(json.dumps({
        "model": "vgg16", "protocol": "patient", "roc_auc": 0.947 if collapsed else 0.81,
        "ci": {"roc_auc": [0.9, 0.98] if collapsed else [0.7, 0.9]}, "accuracy": 0.8, "balanced_accuracy": 0.8,
        "sensitivity": 0.8, "specificity": 0.8, "threshold": 0.5, "threshold_rule": "youden", "n_images": 100,
        "n_patients": 16, "confusion": {"tp": 32, "fn": 8, "tn": 48, "fp": 12}}))
    return folder


@pytest.fixture
def no_imagenet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "imagenet_error", lambda model, size: "could not load vgg16 weights='imagenet'")


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> list[TrainConfig]:
    """train_model replaced: records what it was asked to train and writes a finished run."""
    asked: list[TrainConfig] = []

    def fake_train(config: TrainConfig, root: Path) -> tuple[Path, dict]:
        asked.append(config)
        return fake_run(Path(root) / config.dataset / config.protocol / config.model), {}

    monkeypatch.setattr(notebook, "train_model", fake_train)
    return asked


def test_imagenet_is_used_where_it_loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(transfer, "imagenet_error", lambda model, size: None)
    backbone = pretrained_backbone(CONFIG, tmp_path)
    assert backbone == Backbone("imagenet", "ImageNet", backbone.note) and "ImageNet" in backbone.note


def test_without_imagenet_the_other_datasets_run_is_the_backbone_in_one_sentence(
        no_imagenet: None, no_training: list, tmp_path: Path) -> None:
    source = fake_run(tmp_path / "sample_breakhis" / "patient" / "vgg16")
    weights, origin, note = pretrained_backbone(CONFIG, tmp_path)
    assert weights == str(source / "model.keras") and origin == "pretrained on sample_breakhis"
    assert not no_training, "an existing run is reused, not trained again"
    assert note.startswith("**Backbone:** ImageNet's weights could not be downloaded here, so the backbone is")
    assert "`sample_breakhis/patient/vgg16`" in note and str(tmp_path) not in note
    assert "ROC-AUC 0.810" in note and "*recognised*" in note and "collapsed" not in note
    assert note.count("\n") == 0 and "Traceback" not in note


def test_a_collapsed_backbone_is_said_to_have_nothing_to_transfer(no_imagenet: None, tmp_path: Path) -> None:
    fake_run(tmp_path / "sample_breakhis" / "patient" / "vgg16", collapsed=True)
    note = pretrained_backbone(CONFIG, tmp_path, weights="other").note
    assert note.startswith("**Backbone:** The backbone is the from-scratch run")
    assert "*collapsed*" in note and "nothing to transfer" in note and "ImageNet's weights could not" not in note


def test_only_a_finished_from_scratch_run_at_the_same_size_counts(tmp_path: Path) -> None:
    root = tmp_path / "sample_breakhis" / "patient"
    fake_run(root / "vgg16", image_size=50)
    fake_run(root / "vgg16-2", weights="imagenet")
    assert scratch_run(tmp_path, "vgg16", "sample_breakhis", 32) is None
    good = fake_run(root / "vgg16-3")
    assert scratch_run(tmp_path, "vgg16", "sample_breakhis", 32) == good


def test_without_a_source_run_one_is_trained_on_the_other_dataset_from_scratch(
        no_imagenet: None, no_training: list, tmp_path: Path) -> None:
    config = TrainConfig(**{**CONFIG.__dict__, "protocol": "paper", "data_dir": "somewhere",
                            "hparams": {"weights": "imagenet", "freeze_backbone": True, "unfreeze_last": 5}})
    backbone = pretrained_backbone(config, tmp_path)
    (asked,) = no_training
    assert (asked.dataset, asked.protocol, asked.data_dir, asked.hparams) == ("sample_breakhis", "patient", None,
                                                                              {"weights": None})
    assert (asked.learning_rate, asked.image_size, asked.epochs) == (1e-4, 32, 2)
    assert backbone.origin == "pretrained on sample_breakhis"
    with pytest.raises(WorkbookError, match="run notebook 06 with DATASET='sample'"):
        pretrained_backbone(TrainConfig(**{**CONFIG.__dict__, "dataset": "sample_breakhis"}), tmp_path, train=False)


def test_imagenet_asked_for_and_missing_is_an_error_and_a_path_is_kept(no_imagenet: None, tmp_path: Path) -> None:
    with pytest.raises(WorkbookError, match="imagenet"):
        pretrained_backbone(CONFIG, tmp_path, weights="imagenet")
    with pytest.raises(WorkbookError, match="choose one of auto, imagenet, other"):
        pretrained_backbone(CONFIG, tmp_path, weights="nowhere/model.keras")
    source = fake_run(tmp_path / "sample_breakhis" / "patient" / "vgg16")
    (source / "model.keras").write_bytes(b"")
    backbone = pretrained_backbone(CONFIG, tmp_path, weights=str(source / "model.keras"))
    assert backbone.weights == str(source / "model.keras") and backbone.origin == "pretrained on sample_breakhis"
    with pytest.raises(WorkbookError, match="no other dataset"):
        transfer.other_dataset("mine")


def test_only_the_retracing_warning_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tensorflow")
    with caplog.at_level(logging.WARNING, logger="tensorflow"), transfer.quiet_retracing():
        logger.warning("5 out of the last 12 calls to <function f> triggered tf.function retracing. Tracing is ...")
        logger.warning("something else")
    logger.warning("7 out of the last 9 calls to <function f> triggered tf.function retracing.")
    assert [r.getMessage()[:14] for r in caplog.records] == ["something else", "7 out of the l"]


def test_a_stage_is_reused_with_the_same_settings_and_renamed_otherwise(monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path) -> None:
    from bc_helpers.training import trainer

    calls: list[tuple[Path, str]] = []
    monkeypatch.setattr(trainer, "train", lambda config, path, if_exists, verbose: calls.append((path, if_exists))
                        or {"run_dir": str(path)})
    monkeypatch.setattr(transfer, "same_config", lambda path, config: path.name == "vgg16_head")
    run_dir, _ = transfer.train_stage(CONFIG, tmp_path, "vgg16_head")
    assert run_dir == tmp_path / "sample" / "patient" / "vgg16_head" and calls[-1][1] == "reuse"
    transfer.train_stage(CONFIG, tmp_path, "vgg16_finetuned")
    assert calls[-1][1] == "rename"
