from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bc_helpers.errors import WorkbookError
from bc_helpers.models.builders import (
    BN_MOMENTUM,
    MODEL_NAMES,
    REGISTRY,
    ModelContractError,
    backbone_origin,
    build_model,
    compile_model,
    layer_table,
    model_source,
    positive_probability,
    register_model,
    set_backbone_trainable,
    targets_for,
)
from bc_helpers.models.layers import FusedBatchNormalization
from bc_helpers.models.runtime import keras, tf
from bc_helpers.runs.folders import TrainConfig

X = np.random.default_rng(0).integers(0, 256, (8, 50, 50, 3)).astype("uint8")
Y = np.array([0, 1] * 4)


CASES = [(n, "sigmoid") for n in MODEL_NAMES if n != "resnet50"] + [("cnn_lstm", "softmax"), ("lstm", "softmax")]


@pytest.mark.parametrize(("name", "output"), CASES)
def test_each_model_builds_trains_a_step_and_predicts(name: str, output: str) -> None:
    size = 32 if name == "vgg16" else 24
    model = compile_model(build_model(name, image_size=size, output=output))
    before = [w.copy() for w in model.get_weights()]
    model.fit(X, targets_for(model, Y), epochs=1, batch_size=8, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    out = model.predict(X, verbose=0)
    assert out.shape == (8, 1 if output == "sigmoid" else 2)
    p = positive_probability(out)
    assert p.shape == (8,) and ((0 <= p) & (p <= 1)).all()
    if output == "softmax":
        assert np.allclose(out.sum(axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_a_compiled_model_has_its_training_step_traced_once(output: str) -> None:
    """compile_model creates the optimizer's and the metrics' variables; created during the first trace, they
    make TensorFlow trace the step again. train_step's Python body runs once per trace."""
    model = compile_model(build_model("cnn", image_size=24, filters=(4,), dense=4, output=output))
    assert model.optimizer.built
    counted = [float(v.numpy()) for metric in model.metrics for v in metric.variables]
    assert counted and not any(counted)  # the batch that built the metrics left nothing counted
    traces, step = [], model.train_step
    model.train_step = lambda data: traces.append(1) or step(data)
    model.fit(X, targets_for(model, Y), epochs=2, batch_size=4, verbose=0)
    assert len(traces) == 1
    assert model.optimizer.iterations.numpy() == 4


@pytest.mark.slow
def test_resnet50_builds_and_trains_a_step_and_its_batch_norms_settle_fast(tmp_path: Path) -> None:
    model = compile_model(build_model("resnet50", image_size=32))
    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    before = norms[0].moving_variance.numpy().copy()
    model.fit(X, targets_for(model, Y), epochs=1, batch_size=8, verbose=0)
    assert model.predict(X, verbose=0).shape == (8, 1)
    # One step moves the moving variance 1 - momentum of the way to the batch's: 0.1, not Keras's 0.01.
    moved = np.abs(norms[0].moving_variance.numpy() - before)
    assert len(norms) == 53 and {n.momentum for n in norms} == {BN_MOMENTUM} and moved.max() > 0.02
    model.save(tmp_path / "r.keras")
    loaded = keras.saving.load_model(tmp_path / "r.keras")
    assert {n.momentum for n in loaded._flatten_layers() if isinstance(n, keras.layers.BatchNormalization)} == {
        BN_MOMENTUM}


def test_models_accept_raw_uint8_of_any_size() -> None:
    model = build_model("cnn_lstm", image_size=32)
    assert model.input.dtype == "uint8"
    big = np.zeros((2, 70, 90, 3), "uint8")
    assert model.predict(big, verbose=0).shape == (2, 1)


def test_cnn_lstm_reads_feature_map_rows_as_steps() -> None:
    model = build_model("cnn_lstm", image_size=48, filters=(8, 16, 32), lstm_units=16)
    assert model.get_layer("rows_as_steps").output.shape == (None, 6, 6 * 32)
    kinds = [type(layer).__name__ for layer in model.layers]
    names = [layer.name for layer in model.layers]
    assert kinds.index("LSTM") == names.index("rows_as_steps") + 1
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [0.5, 0.2]


def test_too_small_image_for_vgg16_is_a_clear_error() -> None:
    with pytest.raises(WorkbookError, match="vgg16 needs image_size >= 32"):
        build_model("vgg16", image_size=24)
    with pytest.raises(WorkbookError, match="unknown model"):
        build_model("transformer")


def test_vgg16_from_scratch_takes_the_caffe_input_that_reaches_its_head() -> None:
    """Without batch norm, a [0, 1] image fades through VGG-16's 13 ReLU convolutions at Glorot's initialisation;
    the builder feeds it the caffe input, whose signal reaches the head at least 50 times larger. ResNet-50
    normalises after its first convolution and keeps the [0, 1] input."""
    keras.utils.set_random_seed(0)
    model = build_model("vgg16", image_size=32, augment=False)
    assert [type(layer).__name__ for layer in model.layers][:4] == [
        "InputLayer", "Sequential", "ImageNetPreprocess", "Functional"]
    images = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    rescaled = model.get_layer("preprocessing")(images)
    backbone = model.get_layer("vgg16")
    plain = float(np.sqrt(np.mean(np.square(backbone(rescaled)))))
    caffe = float(np.sqrt(np.mean(np.square(backbone(model.get_layer("image_net_preprocess")(rescaled))))))
    assert build_model("vgg16", image_size=32).get_layer("image_net_preprocess")  # the same name in every model
    assert caffe > 50 * plain
    resnet = build_model("resnet50", image_size=32)
    assert not any(type(layer).__name__ == "ImageNetPreprocess" for layer in resnet.layers)


def test_imagenet_weights_without_network_fail_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.request

    if any((Path.home() / ".keras" / "models").glob("vgg16*")):
        pytest.skip("Keras has VGG-16's ImageNet weights cached here: nothing would be downloaded")

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)  # what keras.utils.get_file's download calls
    with pytest.raises(WorkbookError, match="could not load vgg16 weights='imagenet'"):
        build_model("vgg16", image_size=32, weights="imagenet")


def test_transfer_mode_freezes_then_unfreezes_the_backbone() -> None:
    model = build_model("vgg16", image_size=32, freeze_backbone=True)
    backbone = model.get_layer("vgg16")
    assert not backbone.trainable
    set_backbone_trainable(model, True, last_layers=4)
    assert backbone.trainable and sum(layer.trainable for layer in backbone.layers) == 4


def _bn_step(layer: keras.layers.Layer, x: tf.Tensor) -> list[np.ndarray]:
    """One training-mode pass: output, gradients (input, gamma, beta) and the updated moving statistics."""
    layer.build(x.shape)
    layer.gamma.assign(np.linspace(0.5, 2, x.shape[-1]))
    layer.beta.assign(np.linspace(-1, 1, x.shape[-1]))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * tf.sin(x))
    grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return [np.asarray(t) for t in (y, *grads, layer.moving_mean, layer.moving_variance, layer(x, training=False))]


def test_fused_batch_norm_computes_what_keras_batch_norm_does() -> None:
    x = tf.constant(np.random.default_rng(1).normal(2, 3, (8, 10, 10, 16)).astype("float32"))
    fused = _bn_step(FusedBatchNormalization(momentum=0.9), x)
    plain = _bn_step(keras.layers.BatchNormalization(momentum=0.9), x)
    names = ("output", "d input", "d gamma", "d beta", "moving mean", "moving variance", "inference output")
    for name, a, b in zip(names, fused, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=name)
    assert not np.allclose(plain[5], 1.0)  # the moving variance did move


def test_fused_batch_norm_reads_only_options_this_keras_has(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras 3.13 (Colab's) has no `renorm`; 3.14 added it. The fused path is chosen from the layer's config,
    so it runs on both, and an option it does not implement, set away from its default, hands the step to
    Keras's own BatchNormalization."""
    assert FusedBatchNormalization(momentum=0.9).fusable()
    assert not FusedBatchNormalization(center=False).fusable()
    assert not FusedBatchNormalization(synchronized=True).fusable()
    layer = FusedBatchNormalization()
    layer.build((None, 4, 4, 3))
    layer.synchronized = True  # as distributed.synchronize_batch_norm does, after building
    assert not layer.fusable()
    config = FusedBatchNormalization().get_config()
    monkeypatch.setattr(FusedBatchNormalization, "get_config", lambda self: {**config, "a_later_option": True})
    assert not FusedBatchNormalization().fusable()


@pytest.mark.skipif("renorm" not in keras.layers.BatchNormalization().get_config(),
                    reason="this Keras's BatchNormalization has no batch renormalisation (added in Keras 3.14)")
def test_fused_batch_norm_with_renorm_trains_as_keras_does() -> None:
    x = tf.constant(np.random.default_rng(2).normal(1, 2, (8, 6, 6, 4)).astype("float32"))
    layer = FusedBatchNormalization(momentum=0.9, renorm=True)
    fused = _bn_step(layer, x)
    assert not layer.fusable()
    plain = _bn_step(keras.layers.BatchNormalization(momentum=0.9, renorm=True), x)
    for a, b in zip(fused, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_model_with_fused_batch_norm_saves_and_loads_safely(tmp_path) -> None:
    model = build_model("cnn_lstm", image_size=24)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert any(isinstance(layer, FusedBatchNormalization) for layer in loaded.layers)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)


TINY_MODULE = """
from bc_helpers.models.runtime import keras


def tiny(image_size, filters=4):
    inputs = keras.Input((None, None, 3), dtype="uint8")
    x = keras.layers.Resizing(image_size, image_size)(inputs)
    x = keras.layers.Rescaling(1 / 255)(x)
    x = keras.layers.Conv2D(filters, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
"""


@pytest.fixture
def tiny_registered():
    @register_model("tiny_test_model")
    def tiny(image_size: int, output: str = "sigmoid", units: int = 4) -> keras.Model:
        inputs = keras.Input((image_size, image_size, 3), dtype="uint8")
        x = keras.layers.Rescaling(1 / 255)(inputs)
        x = keras.layers.Conv2D(units, 3, activation="relu")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(1 if output == "sigmoid" else 2, activation=output)(x))

    yield tiny
    REGISTRY.pop("tiny_test_model")


@pytest.mark.slow
def test_a_registered_model_trains_through_the_pipeline(tiny_registered, tiny_sample: Path, tmp_path: Path) -> None:
    from bc_helpers.training.trainer import train

    config = TrainConfig(dataset="sample", data_dir=str(tiny_sample / "idc"), model="tiny_test_model", epochs=1,
                         image_size=24, hparams={"units": 3})
    metrics = train(config, tmp_path / "run", verbose=0)
    assert metrics["model"] == "tiny_test_model" and metrics["epochs_run"] == 1 and 0 <= metrics["roc_auc"] <= 1
    saved = keras.saving.load_model(tmp_path / "run" / "model.keras")  # wrapped to take the 50 px patches
    assert [layer.filters for layer in saved.layers[-1].layers if hasattr(layer, "filters")] == [3]


@pytest.mark.slow
def test_train_command_takes_module_colon_function(tiny_sample: Path, tmp_path: Path) -> None:
    (tmp_path / "student_models.py").write_text(TINY_MODULE)
    assert build_model_from(tmp_path, "student_models:tiny").output_shape == (None, 1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-m", "bc_helpers", "train", "--dataset", "sample", "--data-dir", str(tiny_sample / "idc"),
         "--model", "student_models:tiny", "--image-size", "24", "--epochs", "1", "--hparams", '{"filters": 2}',
         "--quiet", "--out", str(tmp_path / "run")], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["model"] == "student_models:tiny"


def build_model_from(folder: Path, name: str) -> keras.Model:
    sys.path.insert(0, str(folder))
    try:
        return build_model(name, image_size=24, output="sigmoid", augment=True)
    finally:
        sys.path.remove(str(folder))


def test_module_colon_function_that_does_not_import_is_a_clear_error() -> None:
    with pytest.raises(WorkbookError, match="cannot import nothing from no_such_module_here"):
        build_model("no_such_module_here:nothing", image_size=24)


def test_builders_that_break_the_contract_are_named(tiny_registered) -> None:
    def broken(kind: str):
        def builder(image_size: int) -> keras.Model:
            inputs = keras.Input((image_size, image_size, 3), dtype="float32" if kind == "dtype" else "uint8")
            x = keras.layers.Flatten()(inputs)
            units, activation = {"units": (3, "softmax"), "activation": (1, "relu")}.get(kind, (1, "sigmoid"))
            model = keras.Model(inputs, keras.layers.Dense(units, activation=activation)(x))
            if kind == "compiled":
                model.compile(loss="binary_crossentropy")
            return model if kind != "type" else "not a model"
        return builder

    for kind, message in [("dtype", "not one uint8 tensor"), ("units", "3 unit"), ("activation", "'relu'"),
                          ("compiled", "it is compiled"), ("type", "returned str")]:
        register_model(f"broken_{kind}")(broken(kind))
        try:
            with pytest.raises(ModelContractError, match=f"'broken_{kind}'.*{message}"):
                build_model(f"broken_{kind}", image_size=8)
        finally:
            REGISTRY.pop(f"broken_{kind}")
    with pytest.raises(ModelContractError, match="does not take augment"):
        build_model("tiny_test_model", image_size=8, augment=False)
    with pytest.raises(ModelContractError, match="does not take dropout"):
        build_model("tiny_test_model", image_size=8, dropout=0.5)
    assert build_model("tiny_test_model", image_size=8, augment=True, output="softmax").output_shape == (None, 2)
    with pytest.raises(WorkbookError, match="built-in"):
        register_model("cnn")


def test_model_source_is_the_code_that_builds_the_model() -> None:
    source = model_source("gru")
    assert source.startswith("def gru(") and "def _recurrent(" in source and "def _head(" in source
    assert "def preprocessing(" in source and "def cnn(" not in source


def test_layer_table_gives_each_layers_shape_and_parameters() -> None:
    model = build_model("cnn", image_size=48, filters=(8, 16))
    table = layer_table(model, expand=True)
    assert table["parameters"].sum() == model.count_params()
    pools = table[table["type"] == "MaxPooling2D"]["output shape"].tolist()
    assert pools == [(24, 24, 8), (12, 12, 16)]
    assert table.loc[1, "type"] == "Resizing" and table.loc[1, "layer"].startswith("preprocessing/")


def test_a_backbone_pretrained_elsewhere_is_copied_frozen_and_named(tmp_path: Path) -> None:
    source = build_model("vgg16", image_size=32, dense=8)
    run = tmp_path / "sample_breakhis" / "vgg16"
    run.mkdir(parents=True)
    source.save(run / "model.keras")
    (run / "config.json").write_text(json.dumps({"train": {"dataset": "sample_breakhis", "hparams": {}}}))
    head = build_model("vgg16", image_size=32, dense=8, weights=str(run / "model.keras"), freeze_backbone=True)
    for a, b in zip(head.get_layer("vgg16").get_weights(), source.get_layer("vgg16").get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not head.get_layer("vgg16").trainable
    tuned = build_model("vgg16", image_size=32, dense=8, weights=str(run / "model.keras"), freeze_backbone=True,
                        unfreeze_last=4)
    assert sum(layer.trainable for layer in tuned.get_layer("vgg16").layers) == 4
    assert backbone_origin({}) == "from scratch" and backbone_origin({"weights": "imagenet"}) == "ImageNet"
    assert backbone_origin({"weights": str(run / "model.keras")}) == "pretrained on sample_breakhis"
    with pytest.raises(WorkbookError, match="not a resnet50"):
        build_model("resnet50", image_size=32, weights=str(run / "model.keras"))


def test_the_ablation_arms_match_the_cnn_lstm_in_capacity_and_dropouts() -> None:
    lstm, matched, shuffled = (build_model(n, image_size=50) for n in ("cnn_lstm", "cnn_matched", "cnn_lstm_shuffled"))
    reader = {m.name: next(layer for layer in m.layers if layer.name in ("matched_dense",) or
                            isinstance(layer, keras.layers.LSTM)).count_params() for m in (lstm, matched)}
    assert abs(reader["cnn_matched"] / reader["cnn_lstm"] - 1) < 0.1
    assert abs(matched.count_params() / lstm.count_params() - 1) < 0.1
    assert shuffled.count_params() == lstm.count_params()
    rates = [[layer.rate for layer in m.layers if isinstance(layer, keras.layers.Dropout)] for m in (lstm, matched)]
    assert rates[0] == rates[1] == [0.5, 0.2]
    assert not any(isinstance(layer, keras.layers.LSTM) for layer in matched.layers)


def test_the_row_shuffled_arm_reads_rows_in_one_fixed_order(tmp_path: Path) -> None:
    from bc_helpers.models.hybrid import row_order
    from bc_helpers.models.layers import PermuteSteps

    order = row_order(6)
    assert order == row_order(6) and sorted(order) == list(range(6)) and order != list(range(6))
    layers = [build_model("cnn_lstm_shuffled", image_size=50).get_layer("rows_shuffled") for _ in range(2)]
    assert layers[0].order == layers[1].order == order
    steps = np.arange(6 * 2, dtype="float32").reshape(1, 6, 2)
    assert np.array_equal(np.asarray(PermuteSteps(order)(steps))[0, :, 0], steps[0, order, 0])
    model = build_model("cnn_lstm_shuffled", image_size=50)
    model.save(tmp_path / "m.keras")
    assert keras.saving.load_model(tmp_path / "m.keras").get_layer("rows_shuffled").order == order
