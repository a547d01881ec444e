"""The grid search: the learning rate reaches the final training, folds are balanced like the final run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bc_helpers.models.builders import build_model
from bc_helpers.runs.folders import TrainConfig
from bc_helpers.training.gridsearch import DEFAULT_GRID, GridResult, grid_search, one_class_folds


def test_default_grid_covers_the_papers_search_dimensions() -> None:
    keys = {k for part in DEFAULT_GRID for k in part}
    assert keys == {"filters", "kernel_size", "activation", "pooling", "conv_dropout", "learning_rate"}
    for part in DEFAULT_GRID:  # every value builds a model
        for key, values in part.items():
            if key != "learning_rate":
                for v in values:
                    build_model("cnn_lstm", image_size=16, lstm_units=2, dense=2, **{key: v})


def test_train_config_takes_the_learning_rate_out_of_hparams() -> None:
    result = GridResult(None, None, {"lstm_units": 8}, 3e-4)
    config = result.train_config(TrainConfig(hparams={"dense": 16}, learning_rate=1e-3))
    assert config.learning_rate == 3e-4 and config.hparams == {"dense": 16, "lstm_units": 8}
    assert GridResult(None, None, {}, None).train_config(TrainConfig(learning_rate=0.01)).learning_rate == 0.01


@pytest.mark.slow
def test_grid_with_learning_rate_and_smote_folds(tiny_sample: Path) -> None:
    from bc_helpers.data.cache import load_images
    from bc_helpers.data.datasets import index_dataset

    index = index_dataset("sample", tiny_sample / "idc")
    images = load_images(index, 50, progress=False)
    rows = np.arange(len(index.table))
    grid = [{"learning_rate": [1e-3, 1e-2], "filters": [(4,)], "lstm_units": [4]}, {"kernel_size": [5],
             "filters": [(4,)], "lstm_units": [4]}]
    result = grid_search(images, rows, index.table["label"].to_numpy(), index.table["patient"].to_numpy(), grid,
                         folds=2, epochs=1, image_size=16, verbose=False, balancing="smote_hybrid")
    assert len(result.folds) == 6 and len(result.table) == 3
    assert "learning_rate" not in result.best and result.best["filters"] == (4,)
    winner = result.table.loc[0]
    assert (result.learning_rate is None) == (winner["learning_rate"] == "")
    config = result.train_config(TrainConfig())
    build_model("cnn_lstm", image_size=16, **config.hparams)  # no TypeError: the rate is not a model argument


@pytest.mark.slow
def test_a_settings_scores_do_not_depend_on_the_settings_before_it(tiny_sample: Path) -> None:
    """Settings that differ only in their learning rate reuse one compiled model: it is reset to the fold's
    fresh initial weights, random-number states and optimizer state before each fit."""
    from bc_helpers.data.cache import load_images
    from bc_helpers.data.datasets import index_dataset

    index = index_dataset("sample", tiny_sample / "idc")
    images = load_images(index, 50, progress=False)
    rows = np.arange(len(index.table))
    labels, groups = index.table["label"].to_numpy(), index.table["patient"].to_numpy()

    def scores(rates: list[float]) -> pd.DataFrame:
        result = grid_search(images, rows, labels, groups, {"learning_rate": rates, "filters": [(4,)],
                                                            "lstm_units": [4]}, folds=2, epochs=1, image_size=16,
                             verbose=False, balancing="class_weight")
        return result.folds[result.folds["learning_rate"] == "0.003"].reset_index(drop=True)

    alone, after = scores([3e-3]), scores([3e-2, 3e-3])
    np.testing.assert_allclose(after["roc_auc"], alone["roc_auc"], atol=1e-6)
    np.testing.assert_allclose(after["balanced_accuracy"], alone["balanced_accuracy"], atol=1e-6)


def test_folds_whose_validation_holds_one_class_are_named() -> None:
    labels = np.array([0, 0, 1, 1, 1, 1, 0, 1])
    splits = [(np.array([2, 3, 4, 5]), np.array([0, 1, 6, 7])), (np.array([0, 1, 6, 7]), np.array([2, 3, 4, 5]))]
    assert one_class_folds(splits, labels) == (1,)
    assert one_class_folds(splits[:1], labels) == ()
