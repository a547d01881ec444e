"""The workbook's own Keras layers: ImageNet's input convention and a batch norm trained through the fused kernel."""

from __future__ import annotations

import inspect

from .runtime import keras, tf

IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)


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

    # Options of the layer's config that the fused path honours at any value (regularizers and constraints act
    # outside `call`); axis, center and scale are checked in `fusable`. Every other option, whichever this
    # Keras has (synchronized; renorm and its settings since Keras 3.14; any a later release adds), must be at
    # BatchNormalization's default, or Keras's own `call` runs.
    FUSED_OPTIONS = frozenset({
        "name", "trainable", "dtype", "momentum", "epsilon", "axis", "center", "scale", "beta_initializer",
        "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer", "beta_regularizer",
        "gamma_regularizer", "beta_constraint", "gamma_constraint"})

    def fusable(self) -> bool:
        """True when the fused op computes what this Keras's BatchNormalization would: read from the layer's
        config, never from attributes that only some Keras releases have."""
        config = self.get_config()
        defaults = {name: p.default for name, p in
                    inspect.signature(keras.layers.BatchNormalization.__init__).parameters.items()}
        if config.get("axis") not in (-1, 3) or not (config.get("center") and config.get("scale")):
            return False
        return all(key in self.FUSED_OPTIONS or (key in defaults and value == defaults[key])
                   for key, value in config.items())

    def call(self, inputs, training=None, mask=None):
        # Read at every call (once per trace): options may change after building, as `synchronized` does when
        # distributed.synchronize_batch_norm turns it on for several replicas.
        if not (training and self.trainable) or mask is not None or len(inputs.shape) != 4 or not self.fusable():
            return super().call(inputs, training=training, mask=mask)
        x = keras.ops.cast(inputs, "float32")
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            x, self.gamma, self.beta, epsilon=self.epsilon, is_training=True)[:3]
        count = keras.ops.cast(keras.ops.size(x) // keras.ops.shape(x)[-1], "float32")
        variance = variance * (count - 1.0) / count  # the op's is Bessel-corrected; Keras averages the biased one
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return keras.ops.cast(y, self.compute_dtype)


@keras.saving.register_keras_serializable(package="bc_helpers")
class PermuteSteps(keras.layers.Layer):
    """The time steps of a (batch, steps, features) sequence in one fixed order, `order`: the row-shuffled arm of
    the ablation feeds the LSTM the feature map's rows in this order, the same for every image, fit and seed, so
    it asks whether the top-to-bottom order that the paper's argument rests on matters."""

    def __init__(self, order: list[int], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.order = [int(i) for i in order]

    def call(self, x):
        return keras.ops.take(x, keras.ops.convert_to_tensor(self.order, dtype="int32"), axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "order": self.order}
