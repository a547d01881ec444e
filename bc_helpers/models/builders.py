"""The six models, by name, and the registry that lets a student add a seventh. Each model takes raw uint8
images and carries its own preprocessing layers."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import WorkbookError
from ..runs.catalogue import MODEL_NAMES
from ..runs.folders import RunFolder
from .blocks import BN_MOMENTUM, _conv_blocks, _head, _inputs
from .hybrid import cnn_lstm, cnn_lstm_shuffled, cnn_matched  # noqa: F401 (cnn_lstm: REGISTRY reads globals)
from .layers import ImageNetPreprocess
from .runtime import keras

MIN_SIZE = {"vgg16": 32, "resnet50": 32}
# Backbones that take Keras's "caffe" input (0-255, BGR, mean removed) whatever their weights. VGG-16 has no batch
# norm: at Keras's Glorot initialisation each of its 13 ReLU convolutions shrinks the signal (06 measures by how
# much), so a [0, 1] image reaches the head too small for a short run to learn from; the caffe input (0-255, mean
# removed) starts it far larger. ResNet-50 normalises after its first convolution, so its input's scale does not matter.
CAFFE_INPUT = frozenset({"vgg16"})


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
    """An LSTM that reads the image's rows as a sequence, then the head."""
    return _recurrent("lstm", image_size, output, augment, units, dropout, dense, l2)


def gru(image_size: int = 50, output: str = "sigmoid", augment: bool = True, units: int = 128,
        dropout: float = 0.2, dense: int = 64, l2: float = 1e-4) -> keras.Model:
    """A GRU that reads the image's rows as a sequence, then the head."""
    return _recurrent("gru", image_size, output, augment, units, dropout, dense, l2)


def _application(kind: str, image_size: int, output: str, augment: bool, weights: str | None,
                 freeze_backbone: bool, unfreeze_last: int, dropout: float, dense: int, l2: float,
                 bn_momentum: float = BN_MOMENTUM) -> keras.Model:
    """A keras.applications backbone (without its top) between the workbook's input layers and head. ImageNet
    weights, and every backbone in CAFFE_INPUT, take the caffe input (ImageNetPreprocess).

    weights: None (random: from scratch), "imagenet", or the path of a model.keras this builder saved (a
    run of another dataset, or the head-training stage): every layer the two share starts from it.
    freeze_backbone: train the head only, except the backbone's last `unfreeze_last` layers (fine-tuning).
    bn_momentum: of the backbone's batch norms (keras.applications builds them with 0.99)."""
    if image_size < MIN_SIZE[kind]:
        raise WorkbookError(
            f"{kind} needs image_size >= {MIN_SIZE[kind]} (got {image_size}): its five poolings would "
            "shrink the image to nothing. Use --image-size 32 or more."
        )
    source = _saved_source(kind, weights)
    caffe_input = kind in CAFFE_INPUT or weights == "imagenet" or (source is not None and any(
        isinstance(layer, ImageNetPreprocess) for layer in source.layers))
    app = {"vgg16": keras.applications.VGG16, "resnet50": keras.applications.ResNet50}[kind]
    try:
        backbone = app(include_top=False, weights="imagenet" if weights == "imagenet" else None,
                       input_shape=(image_size, image_size, 3), pooling="avg")
    except Exception as exc:  # keras raises a bare Exception when the download fails
        raise WorkbookError(
            f"could not load {kind} weights={weights!r} ({exc}). Without network access, download the "
            "weights file elsewhere into ~/.keras/models/, or use weights=None (the default)."
        ) from exc
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = bn_momentum
    inputs, x = _inputs(image_size, augment)
    if caffe_input:
        x = ImageNetPreprocess(name="image_net_preprocess")(x)  # named: the layer table shows it by this name
    x = backbone(x, training=False if freeze_backbone else None)
    model = keras.Model(inputs, _head(x, output, dense, dropout, l2), name=kind)
    if source is not None:
        _copy_shared_weights(source, model)
    if freeze_backbone:
        set_backbone_trainable(model, bool(unfreeze_last), unfreeze_last or None)
    return model


def _saved_source(kind: str, weights: str | None) -> keras.Model | None:
    """The saved model named by `weights` (None for no weights or "imagenet"), checked to be a `kind`."""
    if weights in (None, "imagenet"):
        return None
    path = Path(weights)
    if not path.is_file():
        raise WorkbookError(f"weights={weights!r}: choose None, 'imagenet' or an existing model.keras of a {kind} run")
    source = keras.saving.load_model(path)
    if source.name != kind:
        raise WorkbookError(f"weights={weights!r} holds a {source.name!r} model, not a {kind}: use a {kind} run's "
                            "model.keras")
    return source


def _copy_shared_weights(source: keras.Model, model: keras.Model) -> None:
    """Set every layer of `model` from the layer of the same name and weight shapes in `source`."""
    for layer in model.layers:
        if not layer.weights or layer.name not in {s.name for s in source.layers}:
            continue
        theirs = source.get_layer(layer.name).get_weights()
        if [w.shape for w in theirs] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(theirs)


def vgg16(image_size: int = 50, output: str = "sigmoid", augment: bool = True, weights: str | None = None,
          freeze_backbone: bool = False, unfreeze_last: int = 0, dropout: float = 0.5, dense: int = 256,
          l2: float = 1e-4) -> keras.Model:
    """keras.applications.VGG16 without its top, on the caffe input (CAFFE_INPUT); weights=None (no download) unless
    asked."""
    return _application("vgg16", image_size, output, augment, weights, freeze_backbone, unfreeze_last, dropout,
                        dense, l2)


def resnet50(image_size: int = 50, output: str = "sigmoid", augment: bool = True, weights: str | None = None,
             freeze_backbone: bool = False, unfreeze_last: int = 0, dropout: float = 0.5, dense: int = 256,
             l2: float = 1e-4, bn_momentum: float = BN_MOMENTUM) -> keras.Model:
    """keras.applications.ResNet50 without its top; weights=None (no download) unless asked. bn_momentum: of
    its 53 batch norms; lower it for runs of a few dozen steps, whose weights change faster than 0.9 follows."""
    return _application("resnet50", image_size, output, augment, weights, freeze_backbone, unfreeze_last, dropout,
                        dense, l2, bn_momentum)


def backbone_origin(hparams: dict) -> str:
    """Where a VGG-16 / ResNet-50 run's backbone started: "from scratch", "ImageNet" or "pretrained on <dataset>"
    (read from the source run's config.json beside its model.keras)."""
    weights = hparams.get("weights")
    if weights is None:
        return "from scratch"
    if weights == "imagenet":
        return "ImageNet"
    train = (RunFolder(Path(weights).parent).read_config() or {}).get("train", {})
    if train.get("hparams", {}).get("weights") is not None:
        return backbone_origin(train["hparams"])  # a later stage: where the first stage's backbone began
    return f"pretrained on {train.get('dataset', Path(weights).parent)}"


class ModelContractError(WorkbookError):
    """A model builder that does not keep the contract every builder keeps (see `build_model`)."""


# The six built-in models (the paper's): each is the builder function named like it in the catalogue, so a model
# added there without a builder fails here, at import. Registered models are added to REGISTRY only.
REGISTRY: dict[str, Callable[..., keras.Model]] = {name: globals()[name] for name in MODEL_NAMES}
# The ablation's arms beside the CNN-LSTM: trainable by name, not models of the course (not in the catalogue).
ABLATION_ARMS = {"cnn_matched": cnn_matched, "cnn_lstm_shuffled": cnn_lstm_shuffled}
REGISTRY.update(ABLATION_ARMS)
# What the training loop passes to every builder besides image_size. A builder that does not take one of them
# is called without it while it has this value; any other value needs the builder to take the argument.
PIPELINE_DEFAULTS = {"output": "sigmoid", "augment": True}


def register_model(name: str) -> Callable[[Callable[..., keras.Model]], Callable[..., keras.Model]]:
    """Decorator: `@register_model("tiny")` on a builder makes `TrainConfig(model="tiny")` train it.

    Registering a name again replaces the earlier builder (re-running a notebook cell); the six built-in
    names cannot be replaced."""
    if name in MODEL_NAMES:
        raise WorkbookError(f"{name!r} is a built-in model: register yours under another name")
    if ":" in name or not name:
        raise WorkbookError(f"model name {name!r}: use a non-empty name without ':' (':' means module:function)")

    def register(builder: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
        REGISTRY[name] = builder
        return builder

    return register


def get_builder(name: str) -> Callable[..., keras.Model]:
    """A registered builder, or "package.module:function" imported."""
    if name in REGISTRY:
        return REGISTRY[name]
    if ":" not in name:
        raise WorkbookError(f"unknown model {name!r}: choose one of {', '.join(REGISTRY)}, register one with "
                            "@register_model, or give 'package.module:function'")
    module_name, _, function = name.partition(":")
    try:
        builder = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError) as exc:
        raise WorkbookError(f"model {name!r}: cannot import {function} from {module_name} ({exc}). Check the "
                            "spelling, and that the module's folder is on PYTHONPATH.") from exc
    if not callable(builder):
        raise ModelContractError(f"model {name!r}: {function} in {module_name} is not a function")
    return builder


def build_model(name: str, **kwargs: object) -> keras.Model:
    """Build a model by registered name or "package.module:function"; keyword arguments are image_size and its
    hyperparameters. The builder's result is checked against the contract (see `check_model`)."""
    builder = get_builder(name)
    model = builder(**_accepted(name, builder, kwargs))
    check_model(name, model, kwargs.get("image_size"))
    return _any_size(model) if model.inputs[0].shape[1] is not None else model


def _any_size(model: keras.Model) -> keras.Model:
    """A model for (size, size, 3) images, taking images of any size (the cache keeps IDC patches at 50 px)."""
    size = model.inputs[0].shape[1]
    inputs = keras.Input(shape=(None, None, 3), dtype="uint8", name="image")
    return keras.Model(inputs, model(keras.layers.Resizing(size, size)(inputs)), name=model.name)


def _accepted(name: str, builder: Callable[..., keras.Model], kwargs: dict) -> dict:
    """The keyword arguments to pass: a pipeline option the builder does not take is left out at its default."""
    params = inspect.signature(builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return kwargs
    if "image_size" not in params:
        raise ModelContractError(f"model builder {name!r} must take an `image_size` argument")
    passed = {k: v for k, v in kwargs.items() if k in params or PIPELINE_DEFAULTS.get(k, object()) != v}
    unknown = sorted(set(passed) - set(params))
    if unknown:
        raise ModelContractError(f"model builder {name!r} does not take {', '.join(unknown)}: its arguments are "
                                 f"{', '.join(params)}. Add them to the builder, or drop them from the hparams.")
    return passed


def check_model(name: str, model: object, image_size: object = None) -> None:
    """The contract: an uncompiled keras.Model, uint8 images (N, size, size, 3) or (N, None, None, 3) in,
    1 sigmoid unit or 2 softmax units out."""
    rule = ("a builder returns an uncompiled keras.Model whose input is uint8 images (N, size, size, 3) or "
            "(N, None, None, 3), and whose output is 1 sigmoid unit or 2 softmax units")
    if not isinstance(model, keras.Model):
        raise ModelContractError(f"model builder {name!r} returned {type(model).__name__}: {rule}")
    problems = []
    if getattr(model, "compiled", False):
        problems.append("it is compiled (training compiles it)")
    if len(model.inputs) != 1 or model.inputs[0].dtype != "uint8":
        problems.append(f"its input is {[t.dtype for t in model.inputs]}, not one uint8 tensor")
    elif tuple(model.inputs[0].shape[1:]) not in ((image_size, image_size, 3), (None, None, 3)):
        problems.append(f"its input shape is {tuple(model.inputs[0].shape)}")
    units, activation = model.outputs[0].shape[-1], _output_activation(model)
    if len(model.outputs) != 1 or (units, activation) not in ((1, "sigmoid"), (2, "softmax")):
        problems.append(f"its output is {units} unit(s) with activation {activation!r}")
    if problems:
        raise ModelContractError(f"model builder {name!r}: {'; '.join(problems)}. The contract: {rule}.")


def _output_activation(model: keras.Model) -> str | None:
    layer = model.outputs[0]._keras_history.operation
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None)


def model_source(name: str) -> str:
    """The source code of a builder and of the workbook functions it calls, in the order they are reached:
    what the notebooks show, so the code on the page is the code that runs."""
    seen: list[Callable] = []
    todo = [get_builder(name)]
    while todo:
        function = todo.pop(0)
        if function in seen:
            continue
        seen.append(function)
        names = function.__code__.co_names
        todo += [g for n in names if inspect.isfunction(g := function.__globals__.get(n))
                 and g.__module__.startswith("bc_helpers")]
    return "\n\n".join(inspect.getsource(f) for f in seen)


def layer_table(model: keras.Model, expand: bool = False) -> pd.DataFrame:
    """One row per layer: name, type, output shape (batch left out) and parameters; `expand` lists the layers
    inside nested models (the preprocessing block, a keras.applications backbone) instead of the block."""
    rows = []
    for layer in model.layers:
        if expand and isinstance(layer, keras.Model):
            rows += [{**row, "layer": f"{layer.name}/{row['layer']}"} for row in layer_table(layer).to_dict("records")]
            continue
        shape = layer.output.shape if not isinstance(layer, keras.layers.InputLayer) else layer.batch_shape
        rows.append({"layer": layer.name, "type": type(layer).__name__, "output shape": tuple(shape[1:]),
                     "parameters": layer.count_params()})
    return pd.DataFrame(rows)


def compile_model(model: keras.Model, learning_rate: float = 1e-3) -> keras.Model:
    """Adam, and the loss that matches the output layer (1 sigmoid node or 2 softmax nodes).

    The optimizer's and the metrics' variables are created here. Left to the first fit, they are created while
    Keras traces the training step, and TensorFlow then traces the step a second time, which roughly doubles a
    first fit's time (measured in docs/measurements/first-step.md)."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss_for(model), metrics=["accuracy"])
    model.optimizer.build(model.trainable_variables)
    outputs = np.zeros((1, *model.output_shape[1:]), "float32")
    model.compute_metrics(None, targets_for(model, np.zeros(1, int)), outputs, None)  # builds "accuracy" for y's shape
    model.reset_metrics()
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
