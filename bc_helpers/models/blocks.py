"""The parts every built-in model is made of: the input layers, the convolutional blocks and the head."""

from __future__ import annotations

from ..errors import WorkbookError
from ..runs.config import OUTPUTS
from .layers import FusedBatchNormalization
from .pipeline import preprocessing
from .runtime import keras

# Keras's default 0.99 needs several hundred steps before the moving statistics used at inference settle;
# 0.9 settles in a few dozen, so short runs on small data validate and test sensibly. Every batch norm of the
# workbook uses it, ResNet-50's included (keras.applications builds those with 0.99).
BN_MOMENTUM = 0.9


def _inputs(image_size: int, augment: bool) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Raw uint8 images of any size in; resized, rescaled (and augmented in training) images out."""
    inputs = keras.Input(shape=(None, None, 3), dtype="uint8", name="image")
    return inputs, preprocessing(image_size, augment)(inputs)


def _head(x: keras.KerasTensor, output: str, dense: int, dropout: float, l2: float) -> keras.KerasTensor:
    """Dense ReLU layer (if `dense`), dropout (if `dropout`), then 1 sigmoid node or 2 softmax nodes."""
    if output not in OUTPUTS:
        raise WorkbookError(f"output {output!r}: choose 'sigmoid' (1 node) or 'softmax' (2 nodes)")
    if dense:
        x = keras.layers.Dense(dense, activation="relu", kernel_regularizer=keras.regularizers.l2(l2),
                               name="head_dense")(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    units = 1 if output == "sigmoid" else 2
    return keras.layers.Dense(units, activation=output, dtype="float32", name="probability")(x)


def _conv_blocks(
    x: keras.KerasTensor, filters: tuple[int, ...], kernel_size: int, activation: str, pooling: str, l2: float
) -> keras.KerasTensor:
    """Conv -> batch norm -> activation -> pooling, once per entry of `filters`."""
    pool = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}[pooling]
    for f in filters:
        x = keras.layers.Conv2D(f, kernel_size, padding="same", use_bias=False,
                                kernel_regularizer=keras.regularizers.l2(l2))(x)
        x = FusedBatchNormalization(momentum=BN_MOMENTUM)(x)
        x = keras.layers.Activation(activation)(x)
        x = pool(2)(x)
    return x
