"""Train one model into one run folder: split, balance, fit with early stopping and resumable checkpoints,
pick the threshold on validation, evaluate once on test, and save everything a later notebook needs."""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from .balance import balance
from .cache import load_images, storage_size
from .datasets import DatasetIndex, index_dataset
from .decisions import coverage_table, decide_threshold, review_flags
from .distributed import fit_multiworker
from .files import write_csv_atomic, write_json_atomic
from .metrics import binary_metrics, test_report
from .models import build_model, compile_model, positive_probability, targets_for
from .pipeline import make_dataset
from .runs import TrainConfig, is_finished, prepare_run_dir
from .runtime import gpus, keras, set_seed, tf, versions
from .splits import patient_overlap, split_frame, split_table


def choose_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """auto: TF_CONFIG set -> MultiWorkerMirroredStrategy (several machines, trained by
    distributed.fit_multiworker); several GPUs -> MirroredStrategy; else the default strategy.
    'mirrored' mirrors over every logical device (GPUs, else CPUs: see runtime.split_cpu)."""
    if name == "auto":
        name = "multiworker" if os.environ.get("TF_CONFIG") else "mirrored" if len(gpus()) > 1 else "default"
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or [
            d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()


def predict_probabilities(model: keras.Model, images: np.ndarray, rows: np.ndarray | None = None,
                          batch_size: int = 256) -> np.ndarray:
    """P(positive) for images[rows]."""
    rows = np.arange(len(images)) if rows is None else rows
    ds = make_dataset(images, np.zeros(len(rows), np.float32), batch_size, rows=rows)
    return positive_probability(model.predict(ds, verbose=0))


def load_data(config: TrainConfig) -> tuple[DatasetIndex, np.ndarray, pd.Series]:
    """Index, decoded images and the split for a config."""
    index = index_dataset(config.dataset, config.data_dir)
    images = load_images(index, storage_size(index, config.image_size))
    parts = split_table(index.table, config.protocol, config.seed)
    return index, images, parts


def train(config: TrainConfig, run_dir: str | Path, if_exists: str = "error", verbose: int | str = "auto",
          strategy: str = "auto") -> dict:
    """Train, choose the threshold on validation, evaluate on test; returns metrics.json's content."""
    run_dir = prepare_run_dir(run_dir, config, if_exists)
    if if_exists == "reuse" and is_finished(run_dir):
        return json.loads((run_dir / "metrics.json").read_text())
    set_seed(config.seed, config.deterministic)
    index, images, parts = load_data(config)
    write_csv_atomic(run_dir / "split.csv", split_frame(index.table, parts))
    labels = index.table["label"].to_numpy()
    train_rows = _train_rows(parts, labels, config)
    val_rows = np.flatnonzero(parts == "val")
    smote = config.balance == "smote_hybrid"
    # SMOTE needs the training images in memory; the other methods only look at the labels and keep
    # gathering rows from the memory-mapped cache.
    balanced = balance(images[train_rows] if smote else images, labels[train_rows], config.balance, config.seed)
    write_json_atomic(run_dir / "config.json", {
        "train": asdict(config), "run_dir": str(run_dir), "index": index.summary() | {"skipped": len(index.skipped)},
        "storage_size": int(images.shape[1]), "layout": index.layout, "balance": balanced.report,
        "versions": versions(), "synthetic": config.dataset.startswith("sample"),
    })
    train_images, train_rows_in = (balanced.images, None) if smote else (images, train_rows)
    if gpus():
        keras.mixed_precision.set_global_policy("mixed_float16")
    _trim_history(run_dir)
    distribution = choose_strategy(strategy)
    with distribution.scope():
        model = build_model(config.model, image_size=config.image_size, output=config.output,
                            augment=config.augment, **config.hparams)
        compile_model(model, config.learning_rate)
    _synchronize_batch_norm(model, distribution)
    # Class weights travel as per-sample weights in the pipeline: the same on every tf.distribute strategy.
    cw = balanced.class_weight
    weights = None if cw is None else np.where(balanced.labels == 1, cw[1], cw[0]).astype(np.float32)
    train_ds = make_dataset(train_images, targets_for(model, balanced.labels), config.batch_size, shuffle=True,
                            seed=config.seed, rows=train_rows_in, weights=weights)
    val_ds = make_dataset(images, targets_for(model, labels[val_rows]), config.batch_size, rows=val_rows)
    start = time.perf_counter()
    if (run_dir / "model.keras").exists():  # stopped after training, before evaluation: evaluate it
        model = keras.saving.load_model(run_dir / "model.keras")
    elif isinstance(distribution, tf.distribute.MultiWorkerMirroredStrategy):
        if config.tensorboard:
            warnings.warn("--tensorboard is not written by the multi-worker loop; history.csv is", stacklevel=2)
        fit_multiworker(model, distribution, train_ds, len(balanced.labels), val_ds, len(val_rows),
                        config.batch_size, config.epochs, config.patience, run_dir / "history.csv")
        model.save(run_dir / "model.keras")
        model = keras.saving.load_model(run_dir / "model.keras")  # evaluate outside the strategy, on each worker
    else:
        model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, shuffle=False,
                  callbacks=_callbacks(run_dir, config), verbose=verbose)
        model.save(run_dir / "model.keras")
    train_seconds = time.perf_counter() - start
    # The positive share the model was trained towards: 0.5 once balanced (class weights act as balancing).
    prior = 0.5 if balanced.class_weight else float(np.mean(balanced.labels))
    return _evaluate_run(model, run_dir, config, index, images, parts, train_seconds, len(balanced.labels), prior)


def _synchronize_batch_norm(model: keras.Model, distribution: tf.distribute.Strategy) -> None:
    """Over several replicas, batch normalisation uses the global batch's statistics, as one device would:
    by default Keras keeps each replica's own moving statistics, and the workers' models drift apart."""
    if distribution.num_replicas_in_sync == 1:
        return
    stack = list(model.layers)
    while stack:
        layer = stack.pop()
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
        stack.extend(getattr(layer, "layers", []))


def _train_rows(parts: pd.Series, labels: np.ndarray, config: TrainConfig) -> np.ndarray:
    rows = np.flatnonzero(parts == "train")
    if config.max_train_images and len(rows) > config.max_train_images:
        rng = np.random.default_rng(config.seed)
        rows = np.sort(rng.choice(rows, config.max_train_images, replace=False))
    return rows


def _trim_history(run_dir: Path) -> None:
    """On a resume, keep only the history rows of the epochs the checkpoint holds (a run killed between
    the checkpoint and the CSV row would otherwise repeat or lose a row)."""
    meta, history = run_dir / "backup" / "training_metadata.json", run_dir / "history.csv"
    if meta.exists() and history.exists():
        done = json.loads(meta.read_text())["epoch"]  # epochs completed and checkpointed
        rows = pd.read_csv(history)
        write_csv_atomic(history, rows[rows["epoch"] < done])
    elif history.exists() and not (run_dir / "model.keras").exists():
        history.unlink()


def _callbacks(run_dir: Path, config: TrainConfig) -> list[keras.callbacks.Callback]:
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True),
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
    ]
    if config.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard")))
    return callbacks


def _evaluate_run(model: keras.Model, run_dir: Path, config: TrainConfig, index: DatasetIndex, images: np.ndarray,
                  parts: pd.Series, train_seconds: float, n_train: int, prior: float) -> dict:
    table = index.table
    labels, patients = table["label"].to_numpy(), table["patient"].astype(str).to_numpy()
    val_rows, test_rows = np.flatnonzero(parts == "val"), np.flatnonzero(parts == "test")
    val_prob = predict_probabilities(model, images, val_rows)
    choice = decide_threshold(labels[val_rows], val_prob, patients[val_rows], config.threshold,
                              config.target_sensitivity, prior)
    threshold = choice.threshold
    start = time.perf_counter()
    test_prob = predict_probabilities(model, images, test_rows)
    infer_ms = 1000 * (time.perf_counter() - start) / max(len(test_rows), 1)
    y, p, g = labels[test_rows], test_prob, patients[test_rows]
    history = pd.read_csv(run_dir / "history.csv")
    epochs_run = int(len(history))
    metrics = test_report(y, p, g, threshold, config.seed) | {
        "model": config.model, "dataset": config.dataset, "protocol": config.protocol, "run_dir": str(run_dir),
        "balance": config.balance, "image_size": config.image_size, "threshold_method": config.threshold,
        "threshold_rule": choice.rule, "threshold_note": choice.reason,
        "synthetic": config.dataset.startswith("sample"),
        "val": binary_metrics(labels[val_rows], val_prob, threshold),
        "review": coverage_table(y, p, threshold, (config.review_width,)).iloc[0].to_dict(),
        "leak": patient_overlap(table, parts),
        "epochs_run": epochs_run,
        "best_epoch": int(history["val_loss"].idxmin()) + 1 if epochs_run else 0,
        "timing": {"train_seconds": train_seconds, "seconds_per_epoch": train_seconds / max(epochs_run, 1),
                   "train_images": n_train, "inference_ms_per_image": infer_ms},
    }
    frame = pd.DataFrame({"path": table["path"], "patient": patients, "label": labels, "part": parts})
    frame = frame.iloc[np.concatenate([val_rows, test_rows])].assign(probability=np.concatenate([val_prob, test_prob]))
    frame["predicted"] = (frame["probability"] >= threshold).astype(int)
    frame["review"] = review_flags(frame["probability"].to_numpy(), threshold, config.review_width)
    write_csv_atomic(run_dir / "predictions.csv", frame)
    write_json_atomic(run_dir / "metrics.json", metrics)
    return metrics
