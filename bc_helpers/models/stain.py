"""H&E stain robustness: jitter in HED colour space as a Keras layer (part of the model, active only in
training), and Reinhard stain normalisation, as a Keras layer (part of the model, in training and inference)
and for uint8 image arrays (numpy, in batches).

HED: Ruifrok & Johnston's colour deconvolution, with the stain vectors scikit-image's `rgb2hed`/`hed2rgb`
use. An image's optical density OD = -ln(rgb) is a sum of stain concentrations times their OD vectors,
OD = C @ RGB_FROM_HED, so C = OD @ HED_FROM_RGB. The jitter scales and shifts each stain's concentration
(Tellez et al. 2018): C' = alpha * C + beta, alpha ~ U(1 - scale, 1 + scale), beta ~ U(-shift, shift), per
image and stain, then goes back to RGB. `shift` is in optical-density units.

Reinhard et al. 2001: per image and channel of the l-alpha-beta space (Ruderman et al. 1998), subtract the
image's mean, scale its standard deviation to a target's, add the target's mean.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..errors import WorkbookError
from ..runs.config import STAINS
from .runtime import keras, tf

# Rows: the optical-density vectors of haematoxylin, eosin and DAB (scikit-image's rgb_from_hed).
RGB_FROM_HED = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]])
HED_FROM_RGB = np.linalg.inv(RGB_FROM_HED)
MIN_INTENSITY = 1e-6  # as scikit-image: rgb is floored here before the logarithm
# Reinhard 2001, Eq. 4 and 6: RGB to LMS cone space, and log10(LMS) to l-alpha-beta.
RGB_TO_LMS = np.array([[0.3811, 0.5783, 0.0402], [0.1967, 0.7244, 0.0782], [0.0241, 0.1288, 0.8444]])
LOG_LMS_TO_LAB = np.diag([1 / np.sqrt(3), 1 / np.sqrt(6), 1 / np.sqrt(2)]) @ np.array(
    [[1, 1, 1], [1, 1, -2], [1, -1, 0]])


@keras.saving.register_keras_serializable(package="bc_helpers")
class HEDJitter(keras.layers.Layer):
    """Random per-image scaling and shifting of the H, E and D stain concentrations of [0, 1] RGB images;
    the identity outside training."""

    def __init__(self, scale: float = 0.05, shift: float = 0.05, seed: int | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.scale, self.shift, self.seed = float(scale), float(shift), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        if not training:
            return inputs
        x = tf.cast(inputs, "float32")
        od = -tf.math.log(tf.maximum(x, MIN_INTENSITY))
        hed = tf.einsum("bhwc,cs->bhws", od, tf.constant(HED_FROM_RGB, "float32"))
        shape = (tf.shape(x)[0], 1, 1, 3)
        alpha = keras.random.uniform(shape, 1 - self.scale, 1 + self.scale, seed=self.seed_generator)
        beta = keras.random.uniform(shape, -self.shift, self.shift, seed=self.seed_generator)
        od = tf.einsum("bhws,sc->bhwc", hed * alpha + beta, tf.constant(RGB_FROM_HED, "float32"))
        return tf.cast(tf.clip_by_value(tf.exp(-od), 0.0, 1.0), inputs.dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict:
        return super().get_config() | {"scale": self.scale, "shift": self.shift, "seed": self.seed}


@keras.saving.register_keras_serializable(package="bc_helpers")
class ReinhardNormalization(keras.layers.Layer):
    """Reinhard normalisation of [0, 1] RGB images to a target's l-alpha-beta mean and standard deviation, in
    training and inference alike (the computation of reinhard_normalise, without the uint8 rounding)."""

    def __init__(self, mean: Iterable[float], std: Iterable[float], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.mean, self.std = [float(v) for v in mean], [float(v) for v in std]

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        x = tf.maximum(tf.cast(inputs, "float32"), 1 / 255)
        lms = tf.einsum("bhwc,dc->bhwd", x, tf.constant(RGB_TO_LMS, "float32"))
        lab = tf.einsum("bhwc,dc->bhwd", tf.math.log(tf.maximum(lms, 1e-6)) / np.log(10.0),
                        tf.constant(LOG_LMS_TO_LAB, "float32"))
        mu = tf.reduce_mean(lab, axis=(1, 2), keepdims=True)
        sd = tf.math.reduce_std(lab, axis=(1, 2), keepdims=True)
        scale = tf.where(sd > 1e-8, tf.constant(self.std) / tf.maximum(sd, 1e-8), 1.0)
        lab = (lab - mu) * scale + tf.constant(self.mean)
        lms = tf.pow(10.0, tf.einsum("bhwc,dc->bhwd", lab, tf.constant(np.linalg.inv(LOG_LMS_TO_LAB), "float32")))
        rgb = tf.einsum("bhwc,dc->bhwd", lms, tf.constant(np.linalg.inv(RGB_TO_LMS), "float32"))
        return tf.cast(tf.clip_by_value(rgb, 0.0, 1.0), inputs.dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict:
        return super().get_config() | {"mean": self.mean, "std": self.std}


def stain_layers(stain: str, target: tuple[np.ndarray, np.ndarray] | None = None) -> list[keras.layers.Layer]:
    """The preprocessing layers for a `stain` option (after rescaling to [0, 1]); 'normalise' needs the
    Reinhard target (reinhard_target of the training images)."""
    if stain not in STAINS:
        raise WorkbookError(f"unknown stain option {stain!r}: choose one of {', '.join(STAINS)}")
    if stain == "normalise":
        if target is None:
            raise WorkbookError("stain 'normalise' needs a Reinhard target: reinhard_target(training images)")
        return [ReinhardNormalization(*target, name="reinhard")]
    return [HEDJitter(name="hed_jitter")] if stain == "augment" else []


def with_stain(model: keras.Model, stain: str, images: np.ndarray | None = None,
               rows: np.ndarray | None = None) -> keras.Model:
    """`model` (untrained, as build_model makes it) with the stain layers appended to its preprocessing
    sub-model; every other layer is shared, not copied. 'normalise' takes its target from images[rows] (the
    training part). stain='none' returns `model` itself."""
    target = None
    if stain == "normalise":
        if images is None:
            raise WorkbookError("stain 'normalise' needs the training images for its target")
        target = reinhard_target(images, rows)
    extra = stain_layers(stain, target)
    if not extra:
        return model
    old = model.get_layer("preprocessing")
    new = keras.Sequential([*old.layers, *extra], name="preprocessing")
    return keras.models.clone_model(model, clone_function=lambda layer: new if layer is old else layer)


def rgb_to_lab(images: np.ndarray) -> np.ndarray:
    """uint8 RGB (..., 3) to Reinhard's l-alpha-beta, float64; black is floored at 1/255 before the log."""
    lms = np.maximum(np.asarray(images, dtype=np.float64) / 255.0, 1 / 255) @ RGB_TO_LMS.T
    return np.log10(np.maximum(lms, 1e-6)) @ LOG_LMS_TO_LAB.T


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """l-alpha-beta back to uint8 RGB (rounded, clipped)."""
    lms = 10 ** (lab @ np.linalg.inv(LOG_LMS_TO_LAB).T)
    rgb = lms @ np.linalg.inv(RGB_TO_LMS).T
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def reinhard_target(images: np.ndarray, rows: np.ndarray | None = None,
                    batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """A normalisation target: the mean over images[rows] (e.g. the training part; default every image) of
    each image's per-channel l-alpha-beta mean and standard deviation. Reads in batches (memory-mapped arrays)."""
    rows = np.arange(len(images)) if rows is None else np.asarray(rows)
    if len(rows) == 0:
        raise WorkbookError("Reinhard normalisation needs at least one reference image")
    means, stds = [], []
    for start in range(0, len(rows), batch_size):
        lab = rgb_to_lab(np.asarray(images[rows[start:start + batch_size]]))
        means.append(lab.mean(axis=(1, 2)))
        stds.append(lab.std(axis=(1, 2)))
    return np.concatenate(means).mean(axis=0), np.concatenate(stds).mean(axis=0)


def reinhard_normalise(images: np.ndarray, target: tuple[np.ndarray, np.ndarray],
                       batch_size: int = 4096) -> np.ndarray:
    """A new uint8 array: each image's l-alpha-beta channels moved to the target's mean and standard deviation
    (a flat channel keeps its own spread). Works in batches: memory beyond the output is one batch in float64."""
    mean, std = (np.asarray(t, dtype=np.float64) for t in target)
    out = np.empty(images.shape, dtype=np.uint8)
    for start in range(0, len(images), batch_size):
        lab = rgb_to_lab(images[start:start + batch_size])
        mu, sd = lab.mean(axis=(1, 2), keepdims=True), lab.std(axis=(1, 2), keepdims=True)
        scale = np.where(sd > 1e-8, std / np.maximum(sd, 1e-8), 1.0)
        out[start:start + batch_size] = lab_to_rgb((lab - mu) * scale + mean)
    return out
