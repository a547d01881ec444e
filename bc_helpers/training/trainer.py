"""Train one model into one run folder: split, balance, fit with early stopping and resumable checkpoints,
pick the threshold on validation, evaluate once on test, and save everything a later notebook needs."""

from __future__ import annotations

import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.balance import balance
from ..data.cache import load_images, storage_size
from ..data.datasets import DatasetIndex, index_dataset
from ..data.registry import is_synthetic
from ..data.sources import resolve_data_dir
from ..data.splits import patient_overlap, random_patient_labels, split_frame, split_table
from ..errors import WorkbookError
from ..evaluation.decisions import coverage_table, decide_threshold, review_flags
from ..evaluation.metrics import binary_metrics, evaluation_report
from ..evaluation.paired import training_gain
from ..files import write_csv_atomic
from ..models.builders import build_model, compile_model, targets_for
from ..models.pipeline import make_dataset
from ..models.pool import ModelPool
from ..models.runtime import gpus, keras, set_seed, tf, versions
from ..models.stain import with_stain
from ..runs.folders import RunFolder, TrainConfig, prepare_run_dir
from .distributed import choose_strategy, fit_multiworker, synchronize_batch_norm
from .inference import predict_probabilities

# On a GPU, training runs in mixed precision (float16 compute, float32 weights); batch size and XLA stay as
# configured (TrainConfig's batch_size, no jit_compile), as `bench` measures them.
GPU_POLICY = "mixed_float16"


@contextmanager
def precision_policy(name: str | None) -> Iterator[None]:
    """Keras's global mixed-precision policy set to `name` inside the block (None: unchanged), restored after."""
    previous = keras.mixed_precision.global_policy()
    if name is not None:
        keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def load_data(config: TrainConfig) -> tuple[DatasetIndex, np.ndarray, pd.Series]:
    """Index, decoded images and the split for a config. Under labels="random" the index's labels are the
    control's (one per patient, seeded by the run's seed), and the split is drawn on them, so that every part
    holds both of the labels the run is scored on."""
    index = index_dataset(config.dataset, resolve_data_dir(config.dataset, config.data_dir))
    images = load_images(index, storage_size(index, config.image_size))
    if config.labels == "random":
        index = replace(index, table=index.table.assign(label=random_patient_labels(index.table, config.seed)))
    parts = split_table(index.table, config.protocol, config.seed)
    return index, images, parts


def train(config: TrainConfig, run_dir: str | Path, if_exists: str = "error", verbose: int | str = "auto",
          strategy: str = "auto", pool: ModelPool | None = None) -> dict:
    """Train, choose the threshold on validation, evaluate on test; returns metrics.json's content. With a `pool`
    (bc_helpers.models.pool), a model of the same architecture compiled earlier in this process is reused, reset
    to this run's initial weights, so Keras does not trace its steps again and TensorFlow does not optimise them
    again (one device, no stain layers; runtime.set_seed keeps TensorFlow's compiled functions)."""
    run = RunFolder(prepare_run_dir(run_dir, config, if_exists))
    if if_exists == "reuse" and run.is_finished():
        return run.read_metrics()
    set_seed(config.seed, config.deterministic)
    index, images, parts = load_data(config)
    run.write_split(split_frame(index.table, parts))
    labels = index.table["label"].to_numpy()
    train_rows = _train_rows(parts, labels, config)
    val_rows = np.flatnonzero(parts == "val")
    smote = config.balance == "smote_hybrid"
    # SMOTE needs the training images in memory; the other methods only look at the labels and keep
    # gathering rows from the memory-mapped cache.
    balanced = balance(images[train_rows] if smote else images, labels[train_rows], config.balance, config.seed)
    run.write_config(config_record(config, run, index, images) | {"balance": balanced.report})
    train_images, train_rows_in = (balanced.images, None) if smote else (images, train_rows)
    with precision_policy(GPU_POLICY if gpus() else None):
        distribution = choose_strategy(strategy)
        arguments = {"image_size": config.image_size, "output": config.output, "augment": config.augment,
                     **config.hparams}
        if pool is not None and config.stain == "none" and distribution is tf.distribute.get_strategy():
            model = pool.fresh(config.model, config.learning_rate, **arguments)
        else:
            with distribution.scope():
                model = with_stain(build_model(config.model, **arguments), config.stain, images, train_rows)
                compile_model(model, config.learning_rate)
        synchronize_batch_norm(model, distribution)
    # Class weights travel as per-sample weights in the pipeline: the same on every tf.distribute strategy.
    cw = balanced.class_weight
    weights = None if cw is None else np.where(balanced.labels == 1, cw[1], cw[0]).astype(np.float32)
    train_ds = make_dataset(train_images, targets_for(model, balanced.labels), config.batch_size, shuffle=True,
                            seed=config.seed, rows=train_rows_in, weights=weights)
    val_ds = make_dataset(images, targets_for(model, labels[val_rows]), config.batch_size, rows=val_rows)
    done = run.completed_epochs()
    multiworker = isinstance(distribution, tf.distribute.MultiWorkerMirroredStrategy)
    if not (done or run.model.exists() or multiworker or run.untrained.exists()):
        # the network as it starts, outside the training time: the control evaluate_run measures against
        untrained = predict_probabilities(model, images, np.flatnonzero(parts == "test"))
        write_csv_atomic(run.untrained, pd.DataFrame({"probability": untrained}))
    start = time.perf_counter()
    if run.model.exists():  # stopped after training, before evaluation: evaluate it
        model = keras.saving.load_model(run.model)
    elif multiworker:
        if config.tensorboard:
            warnings.warn("--tensorboard is not written by the multi-worker loop; history.csv is", stacklevel=2)
        fit_multiworker(model, distribution, train_ds, len(balanced.labels), val_ds, len(val_rows),
                        config.batch_size, config.epochs, config.patience, run.history)
        model.save(run.model)
        model = keras.saving.load_model(run.model)  # evaluate outside the strategy, on each worker
    else:
        if done:  # a killed run: carry on from its last checkpoint (compile_model built the optimizer it holds)
            model.load_weights(run.checkpoint(done))
        model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, initial_epoch=done, shuffle=False,
                  callbacks=_callbacks(run, config), verbose=verbose)
        model.save(run.model)
    train_seconds = time.perf_counter() - start
    # The positive share the model was trained towards: 0.5 once balanced (class weights act as balancing).
    prior = 0.5 if balanced.class_weight else float(np.mean(balanced.labels))
    return evaluate_run(lambda rows: predict_probabilities(model, images, rows), run, config, index, parts,
                        train_seconds, len(balanced.labels), prior)


def _training_gain(run: RunFolder, labels: np.ndarray, prob: np.ndarray, patients: np.ndarray,
                   seed: int) -> dict:
    """metrics.json's "untrained": the test ROC-AUC the run gained over its own untrained start
    (paired.training_gain); nothing for a run that did not record its start (a multi-worker run, a classifier
    that is not a network)."""
    if not run.untrained.exists():
        return {}
    untrained = pd.read_csv(run.untrained)["probability"].to_numpy(dtype=float)
    if len(untrained) != len(prob):
        raise WorkbookError(f"{run.untrained} holds {len(untrained)} probabilities for {len(prob)} test images: it "
                            "belongs to another split; delete it (the run then reports no untrained control)")
    return {"untrained": training_gain(labels, prob, untrained, patients, seed=seed)}


def config_record(config: TrainConfig, run: RunFolder, index: DatasetIndex, images: np.ndarray) -> dict:
    """config.json's content common to every run: the settings, the folder, what was indexed, the stored image
    size, the layout, the versions and whether the data are synthetic."""
    return {"train": asdict(config), "run_dir": str(run.path),
            "index": index.summary() | {"skipped": len(index.skipped)}, "storage_size": int(images.shape[1]),
            "layout": index.layout, "versions": versions(), "synthetic": is_synthetic(config.dataset)}


def _train_rows(parts: pd.Series, labels: np.ndarray, config: TrainConfig) -> np.ndarray:
    rows = np.flatnonzero(parts == "train")
    if config.max_train_images and len(rows) > config.max_train_images:
        rng = np.random.default_rng(config.seed)
        rows = np.sort(rng.choice(rows, config.max_train_images, replace=False))
    return rows


class EpochHistory(keras.callbacks.Callback):
    """history.csv, a row per epoch, rewritten atomically when each epoch ends.

    It runs before the checkpoint is saved, so after a kill the history holds at most one epoch more than the
    checkpoint. A resumed fit repeats the epochs after the checkpoint, and the row of a repeated epoch replaces the
    old one: rows from epoch e on are dropped when epoch e ends. Every epoch appears once.
    """

    def __init__(self, run: RunFolder) -> None:
        super().__init__()
        self.run = run

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Keep the rows of the epochs before this one, add this one's."""
        rows = self.run.read_history() if self.run.history.exists() else pd.DataFrame({"epoch": []})
        row = {"epoch": epoch, **{k: float(v) for k, v in sorted((logs or {}).items())}}
        self.run.write_history(pd.concat([rows[rows["epoch"] < epoch], pd.DataFrame([row])], ignore_index=True))


class EpochCheckpoint(keras.callbacks.Callback):
    """After each epoch, the weights and optimizer state go to the run's checkpoint for that epoch, written under
    a temporary name and renamed, so a kill never leaves half a checkpoint (Keras's BackupAndRestore writes its
    weights and its epoch count in place, as two files: a kill between or during them breaks the resume).
    The checkpoints are removed when training ends."""

    def __init__(self, run: RunFolder) -> None:
        super().__init__()
        self.run = run

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Save the checkpoint of epoch + 1 completed epochs; drop the older one."""
        final, older = self.run.checkpoint(epoch + 1), self.run.completed_epochs()
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(f"partial-{final.name}")
        self.model.save_weights(partial)
        os.replace(partial, final)
        if older and older != epoch + 1:
            self.run.checkpoint(older).unlink(missing_ok=True)

    def on_train_end(self, logs: dict | None = None) -> None:
        """Training is over: the model itself is saved next, the checkpoints are not needed."""
        shutil.rmtree(self.run.backup, ignore_errors=True)


def _callbacks(run: RunFolder, config: TrainConfig) -> list[keras.callbacks.Callback]:
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True),
        EpochHistory(run),
        EpochCheckpoint(run),
    ]
    if config.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run.tensorboard)))
    return callbacks


def evaluate_run(predict: Callable[[np.ndarray], np.ndarray], run: RunFolder, config: TrainConfig,
                 index: DatasetIndex, parts: pd.Series, train_seconds: float, n_train: int, prior: float) -> dict:
    """Choose the threshold on the validation part, evaluate once on test, write predictions.csv and, last,
    metrics.json; `predict` gives P(positive) for rows of the index (a trained model, or any classifier)."""
    table = index.table
    labels, patients = table["label"].to_numpy(), table["patient"].astype(str).to_numpy()
    val_rows, test_rows = np.flatnonzero(parts == "val"), np.flatnonzero(parts == "test")
    val_prob = predict(val_rows)
    choice = decide_threshold(labels[val_rows], val_prob, patients[val_rows], config.threshold,
                              config.target_sensitivity, prior)
    threshold = choice.threshold
    start = time.perf_counter()
    test_prob = predict(test_rows)
    infer_ms = 1000 * (time.perf_counter() - start) / max(len(test_rows), 1)
    y, p, g = labels[test_rows], test_prob, patients[test_rows]
    history = run.read_history() if run.history.exists() else pd.DataFrame({"val_loss": []})
    epochs_run = int(len(history))
    metrics = evaluation_report(y, p, g, threshold, config.seed) | {
        "model": config.model, "dataset": config.dataset, "protocol": config.protocol, "run_dir": str(run.path),
        "balance": config.balance, "image_size": config.image_size, "threshold_method": config.threshold,
        "threshold_rule": choice.rule, "threshold_note": choice.reason,
        "synthetic": is_synthetic(config.dataset),
        "labels": config.labels, **({"control": True} if config.labels == "random" else {}),
        "val": binary_metrics(labels[val_rows], val_prob, threshold),
        "review": coverage_table(y, p, threshold, (config.review_width,)).iloc[0].to_dict(),
        "leak": patient_overlap(table, parts),
        **_training_gain(run, y, p, g, config.seed),
        "epochs_run": epochs_run,
        "best_epoch": int(history["val_loss"].argmin()) + 1 if epochs_run else 0,
        "timing": {"train_seconds": train_seconds, "seconds_per_epoch": train_seconds / max(epochs_run, 1),
                   "train_images": n_train, "inference_ms_per_image": infer_ms},
    }
    frame = pd.DataFrame({"path": table["path"], "patient": patients, "label": labels, "part": parts})
    frame = frame.iloc[np.concatenate([val_rows, test_rows])].assign(probability=np.concatenate([val_prob, test_prob]))
    frame["predicted"] = (frame["probability"] >= threshold).astype(int)
    # The band refers review_width of each side of the threshold, ranked within each part (val, test) alone.
    frame["review"] = np.concatenate([review_flags(val_prob, threshold, config.review_width),
                                      review_flags(test_prob, threshold, config.review_width)])
    run.write_predictions(frame)
    run.write_metrics(metrics)
    return metrics
