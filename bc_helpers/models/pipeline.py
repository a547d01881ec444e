"""The input pipeline: tf.data over the decoded cache, and preprocessing as Keras layers."""

from __future__ import annotations

import numpy as np

from .runtime import keras, tf
from .stain import stain_layers

ROTATION_DEGREES = 15
ZOOM = 0.2
# A fixed prefetch, with tf.data's autotuning off: each new iterator (Keras makes one per epoch, and one per
# validation pass) otherwise waits at its end for the autotune thread's next wake-up, whose period doubles, so
# short epochs end late. `bench` measures both (its epoch_overhead figures).
PREFETCH_BATCHES = 2


def make_dataset(
    images: np.ndarray, targets: np.ndarray, batch_size: int = 64, shuffle: bool = False, seed: int = 0,
    rows: np.ndarray | None = None, weights: np.ndarray | None = None, prefetch: int = PREFETCH_BATCHES,
) -> tf.data.Dataset:
    """Batches of (uint8 images[rows], targets[, weights]), gathered from a (memory-mapped) array by index.

    Only indices go through tf.data, so the images are never copied whole into memory;
    `targets` (and `weights`, per-sample loss weights) have one entry per row of `rows` (default: every image).
    `prefetch`: batches made ahead; tf.data.AUTOTUNE turns tf.data's autotuning on (see PREFETCH_BATCHES).
    """
    rows = np.arange(len(images)) if rows is None else np.asarray(rows)
    if len(rows) != len(targets):
        raise ValueError(f"{len(rows)} images but {len(targets)} targets")
    ds = tf.data.Dataset.range(len(rows))
    if shuffle:
        ds = ds.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True)  # a full shuffle of the rows used
    ds = ds.batch(batch_size)
    target_dtype = tf.as_dtype(targets.dtype)

    def gather(idx: np.ndarray) -> tuple[np.ndarray, ...]:
        out = (np.asarray(images[rows[idx]]), np.asarray(targets[idx]))
        return out if weights is None else (*out, np.asarray(weights[idx], dtype=np.float32))

    def load(idx: tf.Tensor) -> tuple[tf.Tensor, ...]:
        dtypes = (tf.uint8, target_dtype) + (() if weights is None else (tf.float32,))
        batch = tf.numpy_function(gather, [idx], dtypes)
        batch[0].set_shape((None, *images.shape[1:]))
        batch[1].set_shape((None, *targets.shape[1:]))
        if weights is not None:
            batch[2].set_shape((None,))
        return tuple(batch)

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.autotune.enabled = prefetch == tf.data.AUTOTUNE
    return ds.map(load).prefetch(prefetch).with_options(options)


def preprocessing(image_size: int, augment: bool = True, name: str = "preprocessing", stain: str = "none",
                  stain_target: tuple[np.ndarray, np.ndarray] | None = None) -> keras.Sequential:
    """Resize, rescale to [0, 1], and (in training only) rotate 15 deg, flip both ways, zoom 20%; with
    stain='augment', also jitter the H&E stains (stain.HEDJitter, training only); with stain='normalise',
    Reinhard-normalise every image to `stain_target` (stain.reinhard_target)."""
    layers = [keras.layers.Resizing(image_size, image_size), keras.layers.Rescaling(1.0 / 255)]
    if augment:
        layers += [
            keras.layers.RandomRotation(ROTATION_DEGREES / 360, fill_mode="reflect"),
            keras.layers.RandomFlip("horizontal_and_vertical"),
            keras.layers.RandomZoom((-ZOOM, ZOOM), fill_mode="reflect"),
        ]
    return keras.Sequential(layers + stain_layers(stain, stain_target), name=name)
