"""Models: the TensorFlow runtime, the six builders and their registry, the compiled-model pool, stain layers,
the input pipeline and Grad-CAM. Importing it imports TensorFlow."""

from .builders import (
    build_model,
    check_model,
    cnn,
    cnn_lstm,
    compile_model,
    get_builder,
    gru,
    layer_table,
    lstm,
    model_source,
    register_model,
    resnet50,
    set_backbone_trainable,
    vgg16,
)
from .gradcam import gradcam, overlay
from .pipeline import make_dataset, preprocessing
from .pool import ModelPool
from .runtime import device_summary, keras, set_seed, tf, versions
from .stain import HEDJitter, ReinhardNormalization, reinhard_normalise, stain_layers

__all__ = [
    "HEDJitter", "ModelPool", "ReinhardNormalization", "build_model", "check_model", "cnn", "cnn_lstm",
    "compile_model", "device_summary", "get_builder", "gradcam", "gru", "keras", "layer_table", "lstm",
    "make_dataset", "model_source", "overlay", "preprocessing", "register_model", "reinhard_normalise",
    "resnet50", "set_backbone_trainable", "set_seed", "stain_layers", "tf", "versions", "vgg16",
]
