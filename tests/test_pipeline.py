from __future__ import annotations

import numpy as np

from bc_helpers.models.pipeline import make_dataset, preprocessing


def test_dataset_batches_shapes_and_dtypes() -> None:
    images = np.arange(10 * 8 * 8 * 3, dtype=np.uint8).reshape(10, 8, 8, 3)
    targets = np.arange(10, dtype=np.float32).reshape(10, 1)
    batches = list(make_dataset(images, targets, batch_size=4).as_numpy_iterator())
    assert [b[0].shape for b in batches] == [(4, 8, 8, 3), (4, 8, 8, 3), (2, 8, 8, 3)]
    assert batches[0][0].dtype == np.uint8 and batches[0][1].dtype == np.float32
    assert np.array_equal(batches[1][0], images[4:8])


def test_shuffled_dataset_keeps_images_with_their_targets() -> None:
    images = np.repeat(np.arange(20, dtype=np.uint8)[:, None, None, None], 4, axis=1).repeat(4, 2).repeat(3, 3)
    targets = np.arange(20, dtype=np.int32)
    seen = []
    for x, y in make_dataset(images, targets, batch_size=6, shuffle=True, seed=1).as_numpy_iterator():
        assert np.array_equal(x[:, 0, 0, 0], y)
        seen += y.tolist()
    assert sorted(seen) == list(range(20)) and seen != list(range(20))


def test_preprocessing_resizes_rescales_and_augments_only_in_training() -> None:
    layer = preprocessing(32)
    x = np.random.default_rng(0).integers(0, 256, (2, 50, 50, 3)).astype("uint8")
    inference = np.asarray(layer(x, training=False))
    assert inference.shape == (2, 32, 32, 3) and 0 <= inference.min() and inference.max() <= 1
    assert np.allclose(inference, np.asarray(layer(x, training=False)))
    assert not np.allclose(np.asarray(layer(x, training=True)), inference)


def test_per_sample_weights_travel_with_their_images() -> None:
    images = np.arange(6, dtype=np.uint8).reshape(6, 1, 1, 1).repeat(3, axis=3)
    targets = np.array([0, 1, 0, 1, 0, 1], dtype=np.float32)
    weights = np.array([1, 3, 1, 3, 1, 3], dtype=np.float32)
    for x, y, w in make_dataset(images, targets, batch_size=4, shuffle=True, weights=weights).as_numpy_iterator():
        assert np.array_equal(w, weights[x[:, 0, 0, 0]]) and np.array_equal(y, targets[x[:, 0, 0, 0]])
