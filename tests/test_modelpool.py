"""The model pool: a reused compiled model starts exactly where a fresh build would, so results do not change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bc_helpers.models.builders import build_model
from bc_helpers.models.pipeline import make_dataset
from bc_helpers.models.pool import ModelPool
from bc_helpers.models.runtime import keras, seed_build, seed_tensorflow, set_seed, tf
from bc_helpers.runs import TrainConfig


def _values(variables: list) -> list[np.ndarray]:
    return [np.asarray(v.numpy()) for v in variables]


def test_seed_build_draws_the_same_initial_weights_as_set_seed() -> None:
    set_seed(3)
    a = build_model("cnn_lstm", image_size=16, filters=(4,), lstm_units=4, dense=4)
    set_seed(7)
    seed_build(3)  # TensorFlow's global seed stays 7: only the build is seeded
    b = build_model("cnn_lstm", image_size=16, filters=(4,), lstm_units=4, dense=4)
    for x, y in zip(_values(a.variables), _values(b.variables), strict=True):
        np.testing.assert_array_equal(x, y)


def _seeded_fit(seeding, seed: int) -> tuple[list[np.ndarray], list[int]]:
    """A shuffled dataset's first epoch and the weights of a model with dropout after two epochs, under `seeding`."""
    seeding(seed)
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 255, (48, 16, 16, 3), dtype=np.uint8), (np.arange(48) % 2).reshape(-1, 1)
    ds = make_dataset(images, labels, batch_size=8, shuffle=True, seed=seed)
    order = [int(v) for batch in ds for v in batch[1].numpy().ravel()[:2]]
    model = build_model("cnn", image_size=16, filters=(4,), dense=4, dropout=0.5)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    model.fit(ds, epochs=2, verbose=0)
    return _values(model.variables), order


def test_set_seed_draws_what_keras_set_random_seed_draws() -> None:
    """The same shuffles, initial weights and dropout masks as Keras's own seeding, whatever ran before."""
    expected, expected_order = _seeded_fit(keras.utils.set_random_seed, 5)
    set_seed(9)
    got, order = _seeded_fit(set_seed, 5)
    assert order == expected_order
    for x, y in zip(expected, got, strict=True):
        np.testing.assert_array_equal(x, y)


def _unseeded_shuffle() -> list[int]:
    """A shuffle without a seed of its own: its seeds are the global seed and the next operation seed."""
    return [int(v) for v in tf.data.Dataset.range(20).shuffle(20)]


def test_seed_tensorflow_keeps_the_kernel_cache_that_tf_random_set_seed_empties() -> None:
    """tf.random.set_seed restarts a cached stateful kernel; seed_tensorflow keeps it (and the compiled functions),
    while the global seed and the sequence of operation seeds start again as tf.random.set_seed starts them."""
    tf.random.set_seed(11)
    first = float(tf.random.uniform([1], seed=1)[0])
    expected = _unseeded_shuffle()
    assert _unseeded_shuffle() != expected  # the next operation seed
    tf.random.set_seed(11)
    assert float(tf.random.uniform([1], seed=1)[0]) == first  # cache emptied: the kernel starts again
    seed_tensorflow(11)
    assert float(tf.random.uniform([1], seed=1)[0]) != first  # cache kept: the same kernel goes on
    assert _unseeded_shuffle() == expected  # the operation seeds start again
    seed_tensorflow(12)
    assert _unseeded_shuffle() != expected  # another global seed


def test_a_reused_model_is_reset_to_a_fresh_build_and_a_fresh_optimizer() -> None:
    pool = ModelPool()
    arch = {"image_size": 16, "filters": (4,), "dense": 4}
    seed_build(0)
    model = pool.fresh("cnn", 1e-3, **arch)
    images = np.random.default_rng(0).integers(0, 255, (32, 16, 16, 3), dtype=np.uint8)
    model.fit(images, np.arange(32).reshape(-1, 1) % 2, epochs=2, verbose=0)
    assert int(model.optimizer.iterations.numpy()) > 0

    seed_build(1)
    again = pool.fresh("cnn", 3e-4, **arch)
    seed_build(1)
    fresh = build_model("cnn", **arch)
    assert again is model and len(pool) == 1
    for x, y in zip(_values(again.variables), _values(fresh.variables), strict=True):
        np.testing.assert_array_equal(x, y)  # weights, batch-norm statistics and random-number states
    state = [v for v in again.optimizer.variables if v.path != again.optimizer.learning_rate.path]
    assert len(state) > 2 and all(not np.any(v) for v in _values(state))  # step count, Adam's moments
    assert float(again.optimizer.learning_rate.numpy()) == pytest.approx(3e-4)

    other = pool.fresh("cnn", 1e-3, **{**arch, "dense": 8})  # another architecture: its own model
    assert other is not model and len(pool) == 2
    pool.clear()
    assert len(pool) == 0


@pytest.mark.slow
def test_a_run_on_a_reused_model_predicts_what_a_fresh_run_does(tiny_sample: Path, tmp_path: Path) -> None:
    from bc_helpers.training.trainer import train

    config = TrainConfig(dataset="sample", data_dir=str(tiny_sample / "idc"), model="cnn", epochs=2, image_size=16,
                         batch_size=32, hparams={"filters": (4, 8), "dense": 8})
    alone = train(config, tmp_path / "alone", verbose=0)
    pool = ModelPool()
    train(TrainConfig(**{**config.__dict__, "seed": 1}), tmp_path / "other-seed", verbose=0, pool=pool)
    reused = train(config, tmp_path / "reused", verbose=0, pool=pool)
    assert len(pool) == 1  # the second run took the first one's model
    first, second = (pd.read_csv(tmp_path / name / "predictions.csv") for name in ("alone", "reused"))
    np.testing.assert_allclose(second["probability"], first["probability"], atol=1e-5)
    assert reused["roc_auc"] == pytest.approx(alone["roc_auc"], abs=1e-6)
