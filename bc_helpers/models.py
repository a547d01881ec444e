"""The six models, by name. Each takes raw uint8 images and carries its own preprocessing layers."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import WorkbookError
from .pipeline import preprocessing
from .runtime import keras, tf

OUTPUTS = ("sigmoid", "softmax")
MIN_SIZE = {"vgg16": 32, "resnet50": 32}
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)
# Keras's default 0.99 needs several hundred steps before the moving statistics used at inference settle;
# 0.9 settles in a few dozen, so short runs on small data validate and test sensibly.
BN_MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package="bc_helpers")
class ImageNetPreprocess(keras.layers.Layer):
    """[0, 1] RGB to the 'caffe' input of Keras's VGG-16 and ResNet-50 ImageNet weights (BGR, mean removed)."""

    def call(self, x):
        bgr = keras.ops.flip(x * 255.0, axis=-1)
        return bgr - keras.ops.convert_to_tensor(IMAGENET_MEAN_BGR, dtype=x.dtype)


@keras.saving.register_keras_serializable(package="bc_helpers")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras's BatchNormalization, trained through TensorFlow's fused kernel (oneDNN on a CPU).

    Keras 3 normalises with separate moment and arithmetic ops; the fused op computes the same values
    (within float32 round-off, tested) in one op, which trains faster on a CPU (measured by `bench`'s
    keras_batch_norm tuning row).
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or mask is not None or self.synchronized or len(inputs.shape) != 4 \
                or self.axis != -1 or self.renorm or not (self.center and self.scale):
            return super().call(inputs, training=training, mask=mask)
        x = keras.ops.cast(inputs, "float32")
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            x, self.gamma, self.beta, epsilon=self.epsilon, is_training=True)[:3]
        count = keras.ops.cast(keras.ops.size(x) // keras.ops.shape(x)[-1], "float32")
        variance = variance * (count - 1.0) / count  # the op's is Bessel-corrected; Keras averages the biased one
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return keras.ops.cast(y, self.compute_dtype)


def _inputs(image_size: int, augment: bool) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Raw uint8 images of any size in; resized, rescaled (and augmented in training) images out."""
    inputs = keras.Input(shape=(None, None, 3), dtype="uint8", name="image")
    return inputs, preprocessing(image_size, augment)(inputs)


def _head(x: keras.KerasTensor, output: str, dense: int, dropout: float, l2: float) -> keras.KerasTensor:
    if output not in OUTPUTS:
        raise WorkbookError(f"output {output!r}: choose 'sigmoid' (1 node) or 'softmax' (2 nodes)")
    if dense:
        x = keras.layers.Dense(dense, activation="relu", kernel_regularizer=keras.regularizers.l2(l2))(x)
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


def cnn(
    image_size: int = 50, output: str = "sigmoid", augment: bool = True, filters: tuple[int, ...] = (32, 64, 128),
    kernel_size: int = 3, activation: str = "relu", pooling: str = "max", dropout: float = 0.5, dense: int = 128,
    l2: float = 1e-4,
) -> keras.Model:
    """A plain convolutional classifier: conv blocks, flatten, dense, dropout."""
    inputs, x = _inputs(image_size, augment)
    x = _conv_blocks(x, tuple(filters), kernel_size, activation, pooling, l2)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, _head(x, output, dense, dropout, l2), name="cnn")


def _recurrent(kind: str, image_size: int, output: str, augment: bool, units: int, dropout: float,
               dense: int, l2: float) -> keras.Model:
    """Read the image row by row: each of the image_size rows (width x 3 colours) is one time step."""
    inputs, x = _inputs(image_size, augment)
    x = keras.layers.Reshape((image_size, image_size * 3))(x)
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind]
    x = layer(units, kernel_regularizer=keras.regularizers.l2(l2))(x)
    return keras.Model(inputs, _head(x, output, dense, dropout, l2), name=kind)


def lstm(image_size: int = 50, output: str = "sigmoid", augment: bool = True, units: int = 128,
         dropout: float = 0.2, dense: int = 64, l2: float = 1e-4) -> keras.Model:
    return _recurrent("lstm", image_size, output, augment, units, dropout, dense, l2)


def gru(image_size: int = 50, output: str = "sigmoid", augment: bool = True, units: int = 128,
        dropout: float = 0.2, dense: int = 64, l2: float = 1e-4) -> keras.Model:
    return _recurrent("gru", image_size, output, augment, units, dropout, dense, l2)


def _application(kind: str, image_size: int, output: str, augment: bool, weights: str | None,
                 freeze_backbone: bool, dropout: float, dense: int, l2: float) -> keras.Model:
    if image_size < MIN_SIZE[kind]:
        raise WorkbookError(
            f"{kind} needs image_size >= {MIN_SIZE[kind]} (got {image_size}): its five poolings would "
            "shrink the image to nothing. Use --image-size 32 or more."
        )
    app = {"vgg16": keras.applications.VGG16, "resnet50": keras.applications.ResNet50}[kind]
    try:
        backbone = app(include_top=False, weights=weights, input_shape=(image_size, image_size, 3), pooling="avg")
    except Exception as exc:  # keras raises a bare Exception when the download fails
        if weights is None:
            raise
        raise WorkbookError(
            f"could not load {kind} weights={weights!r} ({exc}). Without network access, download the "
            "weights file elsewhere into ~/.keras/models/, or use weights=None (the default)."
        ) from exc
    backbone.trainable = not freeze_backbone
    inputs, x = _inputs(image_size, augment)
    if weights == "imagenet":
        x = ImageNetPreprocess()(x)
    x = backbone(x, training=False if freeze_backbone else None)
    return keras.Model(inputs, _head(x, output, dense, dropout, l2), name=kind)


def vgg16(image_size: int = 64, output: str = "sigmoid", augment: bool = True, weights: str | None = None,
          freeze_backbone: bool = False, dropout: float = 0.5, dense: int = 256, l2: float = 1e-4) -> keras.Model:
    """keras.applications.VGG16 without its top; weights=None (no download) unless asked."""
    return _application("vgg16", image_size, output, augment, weights, freeze_backbone, dropout, dense, l2)


def resnet50(image_size: int = 64, output: str = "sigmoid", augment: bool = True, weights: str | None = None,
             freeze_backbone: bool = False, dropout: float = 0.5, dense: int = 256, l2: float = 1e-4) -> keras.Model:
    """keras.applications.ResNet50 without its top; weights=None (no download) unless asked."""
    return _application("resnet50", image_size, output, augment, weights, freeze_backbone, dropout, dense, l2)


def cnn_lstm(
    image_size: int = 50, output: str = "sigmoid", augment: bool = True, filters: tuple[int, ...] = (32, 64, 128),
    kernel_size: int = 3, activation: str = "relu", pooling: str = "max", conv_dropout: float = 0.5,
    lstm_units: int = 128, lstm_dropout: float = 0.2, dense: int = 64, l2: float = 1e-4,
) -> keras.Model:
    """The paper's hybrid: conv blocks, dropout 0.5, the feature map's rows as a sequence, LSTM, dropout 0.2, dense."""
    inputs, x = _inputs(image_size, augment)
    x = _conv_blocks(x, tuple(filters), kernel_size, activation, pooling, l2)
    x = keras.layers.Dropout(conv_dropout)(x)
    _, rows, cols, channels = x.shape
    x = keras.layers.Reshape((rows, cols * channels), name="rows_as_steps")(x)
    x = keras.layers.LSTM(lstm_units, kernel_regularizer=keras.regularizers.l2(l2))(x)
    x = keras.layers.Dropout(lstm_dropout)(x)
    x = keras.layers.Dense(dense, activation="relu", kernel_regularizer=keras.regularizers.l2(l2))(x)
    return keras.Model(inputs, _head(x, output, 0, 0, l2), name="cnn_lstm")


REGISTRY: dict[str, Callable[..., keras.Model]] = {
    "cnn": cnn, "lstm": lstm, "gru": gru, "vgg16": vgg16, "resnet50": resnet50, "cnn_lstm": cnn_lstm,
}
MODEL_NAMES = tuple(REGISTRY)


def build_model(name: str, **kwargs: object) -> keras.Model:
    """Build a registered model by name; keyword arguments are its hyperparameters."""
    if name not in REGISTRY:
        raise WorkbookError(f"unknown model {name!r}: choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name](**kwargs)


def compile_model(model: keras.Model, learning_rate: float = 1e-3) -> keras.Model:
    """Adam, and the loss that matches the output layer (1 sigmoid node or 2 softmax nodes)."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss_for(model), metrics=["accuracy"])
    return model


def loss_for(model: keras.Model, reduction: str | None = "sum_over_batch_size") -> keras.losses.Loss:
    """The loss that matches the output layer: binary cross-entropy (1 sigmoid node) or sparse categorical
    cross-entropy (2 softmax nodes); reduction=None gives one loss per image."""
    if model.output_shape[-1] == 1:
        return keras.losses.BinaryCrossentropy(reduction=reduction)
    return keras.losses.SparseCategoricalCrossentropy(reduction=reduction)


def targets_for(model: keras.Model, labels: np.ndarray) -> np.ndarray:
    """Labels shaped for the model's loss: (N, 1) float for sigmoid, (N,) int for softmax."""
    labels = np.asarray(labels)
    if model.output_shape[-1] == 1:
        return labels.astype("float32").reshape(-1, 1)
    return labels.astype("int32")


def positive_probability(predictions: np.ndarray) -> np.ndarray:
    """P(positive) from either output: the sigmoid node, or the second softmax node."""
    predictions = np.asarray(predictions, dtype="float64")
    return predictions[:, 0] if predictions.shape[-1] == 1 else predictions[:, 1]


def set_backbone_trainable(model: keras.Model, trainable: bool = True, last_layers: int | None = None) -> None:
    """Fine-tuning after transfer learning: unfreeze the backbone, or only its last `last_layers` layers."""
    backbone = next(layer for layer in model.layers if isinstance(layer, keras.Model) and layer.name != "preprocessing")
    backbone.trainable = trainable
    if trainable and last_layers is not None:
        for layer in backbone.layers[:-last_layers]:
            layer.trainable = False
