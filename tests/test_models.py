from __future__ import annotations

import numpy as np
import pytest

from bc_helpers.errors import WorkbookError
from bc_helpers.models import (
    MODEL_NAMES,
    FusedBatchNormalization,
    build_model,
    compile_model,
    positive_probability,
    set_backbone_trainable,
    targets_for,
)
from bc_helpers.runtime import keras, tf

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


@pytest.mark.slow
def test_resnet50_builds_and_trains_a_step() -> None:
    model = compile_model(build_model("resnet50", image_size=32))
    model.fit(X, targets_for(model, Y), epochs=1, batch_size=8, verbose=0)
    assert model.predict(X, verbose=0).shape == (8, 1)


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


def test_imagenet_weights_without_network_fail_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.setattr("keras.src.applications.vgg16.file_utils.get_file", offline)
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


def test_model_with_fused_batch_norm_saves_and_loads_safely(tmp_path) -> None:
    model = build_model("cnn_lstm", image_size=24)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert any(isinstance(layer, FusedBatchNormalization) for layer in loaded.layers)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)
