"""Stain augmentation (HED jitter layer) and Reinhard normalisation, against numpy computations."""

from __future__ import annotations

import numpy as np
import pytest

from bc_helpers.errors import WorkbookError
from bc_helpers.models.builders import build_model
from bc_helpers.models.pipeline import preprocessing
from bc_helpers.models.runtime import keras
from bc_helpers.models.stain import (
    HED_FROM_RGB,
    RGB_FROM_HED,
    HEDJitter,
    ReinhardNormalization,
    lab_to_rgb,
    reinhard_normalise,
    reinhard_target,
    rgb_to_lab,
    with_stain,
)


def _tissue(n: int = 4, seed: int = 0) -> np.ndarray:
    """Pink-purple images: random H and E concentrations mixed through the HED vectors."""
    rng = np.random.default_rng(seed)
    hed = np.stack([rng.uniform(0.1, 1.0, (n, 12, 12)), rng.uniform(0.1, 0.6, (n, 12, 12)),
                    np.zeros((n, 12, 12))], axis=-1)
    return np.clip(np.rint(np.exp(-hed @ RGB_FROM_HED) * 255), 0, 255).astype(np.uint8)


def test_hed_matrices_are_inverse_and_the_haematoxylin_vector_is_blue_purple() -> None:
    assert HED_FROM_RGB @ RGB_FROM_HED == pytest.approx(np.eye(3))
    # Haematoxylin absorbs red and green more than blue: its optical density vector is smallest in blue.
    assert np.argmin(RGB_FROM_HED[0]) == 2


def test_hed_jitter_matches_numpy_and_only_acts_in_training() -> None:
    x = _tissue().astype("float32") / 255
    layer = HEDJitter(scale=0.0, shift=0.0, seed=1)
    assert np.asarray(layer(x, training=True)) == pytest.approx(x, abs=1e-5)  # no jitter: the round trip
    layer = HEDJitter(scale=0.2, shift=0.1, seed=1)
    assert np.array_equal(np.asarray(layer(x, training=False)), x)
    out = np.asarray(layer(x, training=True))
    # Back in HED space, each image's stains are an affine change of the input's: C' = alpha C + beta.
    c_in = -np.log(np.maximum(x, 1e-6)) @ HED_FROM_RGB
    c_out = -np.log(np.maximum(out, 1e-6)) @ HED_FROM_RGB
    for i in range(len(x)):
        for s in range(2):
            alpha, beta = np.polyfit(c_in[i, ..., s].ravel(), c_out[i, ..., s].ravel(), 1)
            assert 0.8 - 1e-3 <= alpha <= 1.2 + 1e-3 and abs(beta) <= 0.1 + 1e-3
    assert not np.allclose(out, x, atol=1e-3)


def test_stain_option_in_preprocessing_and_models_survives_saving(tmp_path) -> None:
    assert [type(la).__name__ for la in preprocessing(24, augment=False, stain="augment").layers][-1] == "HEDJitter"
    with pytest.raises(WorkbookError, match="stain"):
        preprocessing(24, stain="macenko")
    model = build_model("cnn_lstm", image_size=16, filters=(4,), lstm_units=4, dense=4)
    assert with_stain(model, "none") is model
    jittered = with_stain(model, "augment")
    assert jittered.get_layer("preprocessing").layers[-1].name == "hed_jitter"
    jittered.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    x = _tissue(2)
    assert loaded.predict(x, verbose=0) == pytest.approx(jittered.predict(x, verbose=0), abs=1e-6)


def test_lab_round_trip_and_reinhard_moves_statistics_to_the_target() -> None:
    images = _tissue(6)
    assert np.abs(lab_to_rgb(rgb_to_lab(images)).astype(int) - images).max() <= 1
    mean, std = reinhard_target(images)
    # An image normalised to its own statistics comes back (up to rounding).
    own = rgb_to_lab(images[:1])
    same = reinhard_normalise(images[:1], (own.mean(axis=(0, 1, 2)), own.std(axis=(0, 1, 2))))
    assert np.abs(same.astype(int) - images[:1]).max() <= 1
    # A paler copy is moved back to the batch's statistics.
    pale = np.clip(images.astype(int) + 40, 0, 255).astype(np.uint8)
    lab = rgb_to_lab(reinhard_normalise(pale, (mean, std), batch_size=4))
    assert lab.mean(axis=(1, 2)).mean(axis=0) == pytest.approx(mean, abs=0.02)
    with pytest.raises(WorkbookError):
        reinhard_target(images[:0])


def test_reinhard_layer_matches_numpy_and_travels_with_the_model(tmp_path) -> None:
    images = _tissue(6)
    target = reinhard_target(images, np.array([0, 1, 2]))
    layer = ReinhardNormalization(*target)
    from_layer = np.asarray(layer(images.astype("float32") / 255)) * 255
    assert np.abs(from_layer - reinhard_normalise(images, target)).max() <= 1.0  # numpy rounds to uint8
    model = with_stain(build_model("cnn", image_size=12, filters=(4,), dense=4), "normalise", images, np.arange(3))
    assert model.get_layer("preprocessing").layers[-1].mean == pytest.approx(list(target[0]))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.predict(images, verbose=0) == pytest.approx(model.predict(images, verbose=0), abs=1e-6)
    with pytest.raises(WorkbookError, match="normalise"):
        with_stain(model, "normalise")
