"""tf.distribute for `train`: choosing the strategy, batch normalisation over replicas, and, on several
machines, a plain training loop under MultiWorkerMirroredStrategy, where Keras 3's
`fit` cannot go yet (keras-team/keras#20585: it fails reducing its scalar logs across workers).

The loop does what `fit` does for `training.train`: the weighted loss plus the L2 penalties, one optimizer step
per global batch with gradients summed across workers, validation loss and accuracy after each epoch, early
stopping with the best weights restored, and history.csv with fit's columns (its losses are the weighted data
term alone: fit also adds the L2 penalty to them). Every worker runs it; they stay in
step because each takes the same number of batches per epoch and every decision is made on all-reduced values.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import write_csv_atomic
from ..models.builders import loss_for
from ..models.runtime import gpus, keras, tf
from ..runs.config import STRATEGIES, check_choice

Batch = tuple[tf.Tensor, ...]  # a distributed dataset's element: images, targets[, sample weights]
Sums = tuple[tf.Tensor, tf.Tensor, tf.Tensor]  # over the global batch: loss, correct predictions, images


def choose_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """auto: TF_CONFIG set -> MultiWorkerMirroredStrategy (several machines, trained by `fit_multiworker`);
    several GPUs -> MirroredStrategy; else the default strategy.
    'mirrored' mirrors over every logical device (GPUs, else CPUs: see runtime.split_cpu)."""
    check_choice("strategy", name, STRATEGIES)
    if name == "auto":
        name = "multiworker" if os.environ.get("TF_CONFIG") else "mirrored" if len(gpus()) > 1 else "default"
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or [
            d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()


def synchronize_batch_norm(model: keras.Model, distribution: tf.distribute.Strategy) -> None:
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


def _correct(targets: tf.Tensor, probabilities: tf.Tensor) -> tf.Tensor:
    """1.0 per image whose prediction (threshold 0.5, or the larger softmax node) matches its label."""
    if probabilities.shape[-1] == 1:
        return keras.metrics.binary_accuracy(targets, probabilities)
    return keras.metrics.sparse_categorical_accuracy(targets, probabilities)


class _Steps:
    """The distributed train and validation steps of one model; each returns all-reduced sums."""

    def __init__(self, model: keras.Model, strategy: tf.distribute.Strategy) -> None:
        self.model, self.strategy, self.loss = model, strategy, loss_for(model, reduction=None)
        with strategy.scope():
            model.optimizer.build(model.trainable_variables)

    def _sum(self, per_replica: tuple[tf.Tensor, ...]) -> Sums:
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    @tf.function
    def train(self, iterator: Iterator[Batch], global_batch: int) -> Sums:
        def step(images: tf.Tensor, targets: tf.Tensor, weights: tf.Tensor) -> tuple[tf.Tensor, ...]:
            with tf.GradientTape() as tape:
                probabilities = self.model(images, training=True)
                per_example = self.loss(targets, probabilities) * weights
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
                if self.model.losses:
                    loss += tf.nn.scale_regularization_loss(tf.add_n(self.model.losses))
            variables = self.model.trainable_variables
            self.model.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
            correct = _correct(targets, probabilities)
            return tf.reduce_sum(per_example), tf.reduce_sum(correct), tf.cast(tf.size(correct), tf.float32)

        return self._sum(self.strategy.run(step, args=next(iterator)))

    @tf.function
    def validate(self, iterator: Iterator[Batch]) -> Sums:
        def step(images: tf.Tensor, targets: tf.Tensor) -> tuple[tf.Tensor, ...]:
            probabilities = self.model(images, training=False)
            correct = _correct(targets, probabilities)
            return (tf.reduce_sum(self.loss(targets, probabilities)), tf.reduce_sum(correct),
                    tf.cast(tf.size(correct), tf.float32))

        return self._sum(self.strategy.run(step, args=next(iterator)))


def _full_batches(ds: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    """Endless full global batches of (images, targets, weights), reshuffled on every pass: a short last batch
    could leave a worker with an empty share, and batch normalisation over no images gives NaN statistics."""
    if len(ds.element_spec) == 2:
        ds = ds.map(lambda x, y: (x, y, tf.ones(tf.shape(x)[0], tf.float32)))
    return ds.unbatch().repeat().batch(batch_size, drop_remainder=True)


def fit_multiworker(model: keras.Model, strategy: tf.distribute.Strategy, train_ds: tf.data.Dataset,
                    train_images: int, val_ds: tf.data.Dataset, val_images: int, batch_size: int, epochs: int,
                    patience: int, history_path: Path) -> pd.DataFrame:
    """Train `model` (built and compiled in `strategy.scope()`) with early stopping on val_loss; returns history.

    `train_ds` and `val_ds` are the workbook's batched pipelines, `batch_size` their (global) batch size;
    each worker reads its own share of every global batch. Validation may end on a short batch (a worker's
    share can be empty there: its sums are zero). No checkpoints: an interrupted multi-worker run starts again.
    """
    steps = _Steps(model, strategy)
    train_steps, val_steps = max(train_images // batch_size, 1), math.ceil(val_images / batch_size)
    train_it = iter(strategy.experimental_distribute_dataset(_full_batches(train_ds, batch_size)))
    val_dist = strategy.experimental_distribute_dataset(val_ds.repeat())
    rows: list[dict] = []
    best_loss, best_weights, waited = np.inf, None, 0
    for epoch in range(epochs):
        train_sums = np.sum([np.array(steps.train(train_it, batch_size)) for _ in range(train_steps)], axis=0)
        val_it = iter(val_dist)
        val_sums = np.sum([np.array(steps.validate(val_it)) for _ in range(val_steps)], axis=0)
        row = {"epoch": epoch, "accuracy": train_sums[1] / train_sums[2], "loss": train_sums[0] / train_sums[2],
               "val_accuracy": val_sums[1] / val_sums[2], "val_loss": val_sums[0] / val_sums[2]}
        rows.append(row)
        write_csv_atomic(history_path, pd.DataFrame(rows))
        if row["val_loss"] < best_loss:
            best_loss, best_weights, waited = row["val_loss"], model.get_weights(), 0
        else:
            waited += 1
            if waited >= patience:
                break
    if best_weights is not None:
        model.set_weights(best_weights)
    return pd.DataFrame(rows)
