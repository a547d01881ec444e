"""Where a transfer-learning backbone starts, decided once for notebook 06: ImageNet's weights where Keras can
download them, else a from-scratch run of the same model on the other dataset (found in the run folder, or
trained there with the notebook's settings), named as what it is. The lesson calls `pretrained_backbone` and shows
its one-sentence note; a failed download is that sentence, never a traceback or a log."""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from ..errors import WorkbookError
from ..evaluation.reading import read_run_result
from ..models.runtime import quiet_retracing
from ..runs.config import TrainConfig
from ..runs.folders import RunFolder, same_config, same_name_runs

OTHER_DATASET = {"sample": "sample_breakhis", "sample_breakhis": "sample", "idc": "breakhis", "breakhis": "idc"}
CHOICES = ("auto", "imagenet", "other")  # or the path of a model.keras


class Backbone(NamedTuple):
    """The `weights` hyperparameter a transfer stage gets, where it comes from in words, and one Markdown sentence
    for the lesson (why this backbone, and whether it learned anything to transfer)."""

    weights: str
    origin: str
    note: str


def train_stage(config: TrainConfig, run_root: str | Path, name: str) -> tuple[Path, dict]:
    """A transfer stage in <run_root>/<dataset>/<protocol>/<name> (e.g. vgg16_head): a finished run of the same
    settings there is reused, other settings get a new folder beside it (<name>-2, ...), never overwriting."""
    from ..training.trainer import train
    from .notebook import resolve

    path = resolve(run_root) / config.dataset / config.protocol / name
    with quiet_retracing():
        result = train(config, path, if_exists="reuse" if same_config(path, config) else "rename", verbose=2)
    return Path(result["run_dir"]), result


def other_dataset(dataset: str) -> str:
    """The dataset a course backbone is pretrained on: the sample's other half, or the other real dataset."""
    try:
        return OTHER_DATASET[dataset]
    except KeyError:
        raise WorkbookError(f"dataset {dataset!r} has no other dataset to pretrain on: choose one of "
                            f"{', '.join(OTHER_DATASET)}, or give WEIGHTS as a model.keras path") from None


def imagenet_error(model: str, image_size: int) -> str | None:
    """None when Keras loads `model`'s ImageNet weights (downloading them once into ~/.keras/models/), else why
    not. Keras's download progress and its failure log are kept out of the notebook: the caller says it in words."""
    from ..models.builders import build_model  # TensorFlow: imported only when a backbone is asked for

    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build_model(model, image_size=image_size, weights="imagenet")
    except WorkbookError as exc:
        return str(exc)
    return None


def scratch_run(run_root: str | Path, model: str, dataset: str, image_size: int) -> Path | None:
    """The first finished from-scratch run of `model` on `dataset` (patient split) at `image_size` in
    <run_root>/<dataset>/patient/<model> or the folders beside it (<model>-2, -3, ...); None if there is none."""
    for path in same_name_runs(Path(run_root) / dataset / "patient" / model):
        run = RunFolder(path)
        train = (run.read_config() or {}).get("train", {})
        if (run.is_finished() and train.get("hparams", {}).get("weights", "none") is None
                and train.get("image_size") == image_size):
            return path
    return None


def _source_sentence(source: Path, run_root: Path, dataset: str) -> str:
    """The source run, relative to the run folder, and what its own result says."""
    reading = read_run_result(source)
    where = f"`{source.relative_to(run_root).as_posix()}`" if source.is_relative_to(run_root) else f"`{source.name}`"
    rate = ((RunFolder(source).read_config() or {}).get("train", {})).get("learning_rate")
    trained = f" (trained at learning rate {rate:g})" if rate is not None else ""
    text = (f"the backbone is the from-scratch run {where}{trained}: on {dataset}'s {reading.evidence.n_patients} "
            f"test patients it scored ROC-AUC {reading.evidence.roc_auc:.3f}, read as *{reading.verdict}*")
    if reading.collapsed:
        text += (", so it never trained and has nothing to transfer: its weights are about as random as a fresh "
                 "network's, and the stages below cannot test transfer learning (ImageNet's weights, or a "
                 "pretraining with `CPU_BUDGET = False` on a GPU, can)")
    return text + "."


def pretrained_backbone(config: TrainConfig, run_root: str | Path, weights: str = "auto",
                        other: str | None = None, train: bool = True) -> Backbone:
    """The backbone for `config.model`'s transfer stages.

    weights: "auto" (ImageNet if it loads, else a from-scratch run on `other`), "imagenet" (an error if it does
    not load), "other" (the run on `other` only), or the path of a model.keras (used as it is).
    other: the dataset to pretrain on (default: `other_dataset(config.dataset)`). Its from-scratch run at
    `config.image_size` is read from <run_root>/<other>/patient/<model>; where there is none it is trained there
    with `config`'s settings (train=False raises instead)."""
    from ..models.builders import backbone_origin
    from .notebook import resolve, train_model

    if weights not in CHOICES:
        if not Path(weights).is_file():
            raise WorkbookError(f"WEIGHTS={weights!r}: choose one of {', '.join(CHOICES)} or an existing model.keras")
        origin = backbone_origin({"weights": weights})
        return Backbone(weights, origin, f"**Backbone:** the model you gave, {origin}.")
    intro = ""  # why the backbone is not ImageNet's, when it was asked for
    if weights != "other":
        error = imagenet_error(config.model, config.image_size)
        if error is None:
            return Backbone("imagenet", "ImageNet", "**Backbone:** ImageNet's weights, which Keras downloaded "
                                                    "(1.2 million photographs of 1,000 classes).")
        if weights == "imagenet":
            raise WorkbookError(error)
        intro = "ImageNet's weights could not be downloaded here, so "
    other = other or other_dataset(config.dataset)
    root = resolve(run_root)
    source = scratch_run(root, config.model, other, config.image_size)
    if source is None:
        if not train:
            raise WorkbookError(f"no finished from-scratch {config.model} run on {other} at {config.image_size} px "
                                f"under {root.name}: run notebook 06 with DATASET={other!r} first")
        hparams = {k: v for k, v in config.hparams.items() if k not in ("freeze_backbone", "unfreeze_last")}
        with quiet_retracing():
            source, _ = train_model(replace(config, dataset=other, data_dir=None, protocol="patient",
                                            hparams={**hparams, "weights": None}), root)
    path = str(RunFolder(source).model)
    sentence = intro + _source_sentence(Path(source), root, other)
    return Backbone(path, backbone_origin({"weights": path}), f"**Backbone:** {sentence[0].upper()}{sentence[1:]}")
