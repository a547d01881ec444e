"""Grad-CAM: which parts of an image pushed the model towards 'positive'."""

from __future__ import annotations

import numpy as np

from .runtime import keras, tf


def last_conv_activation(model: keras.Model) -> str:
    """Name of the activation after the model's last convolution (the map Grad-CAM explains)."""
    names = [layer.name for layer in model.layers]
    convs = [i for i, layer in enumerate(model.layers) if isinstance(layer, keras.layers.Conv2D)]
    if not convs:
        raise ValueError(f"{model.name} has no top-level Conv2D layer: Grad-CAM needs one (use cnn or cnn_lstm)")
    after = [i for i, layer in enumerate(model.layers) if i > convs[-1] and isinstance(layer, keras.layers.Activation)]
    return names[after[0] if after else convs[-1]]


def gradcam(model: keras.Model, images: np.ndarray, layer_name: str | None = None) -> np.ndarray:
    """Heatmaps in [0, 1], one per image, at the images' own size."""
    layer = model.get_layer(layer_name or last_conv_activation(model))
    probe = keras.Model(model.inputs, [layer.output, model.output])
    x = tf.convert_to_tensor(np.asarray(images))
    with tf.GradientTape() as tape:
        features, out = probe(x, training=False)
        score = out[:, 0] if out.shape[-1] == 1 else out[:, 1]
    grads = tape.gradient(score, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))
    cam = cam / (tf.reduce_max(cam, axis=(1, 2), keepdims=True) + 1e-8)
    return tf.image.resize(cam[..., None], images.shape[1:3]).numpy()[..., 0]


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The heatmap (jet colours) blended over the image, as uint8."""
    import matplotlib

    colours = matplotlib.colormaps["jet"](heatmap)[..., :3] * 255
    return np.clip((1 - alpha) * image + alpha * colours, 0, 255).astype(np.uint8)
