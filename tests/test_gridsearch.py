"""The grid search: the learning rate reaches the final training, folds are balanced like the final run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bc_helpers.models.builders import build_model
from bc_helpers.runs import TrainConfig
from bc_helpers.training.gridsearch import (
    DEFAULT_GRID,
    GridResult,
    SearchBudget,
    grid_search,
    search_arrays,
    search_rows,
)


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
    result = search_arrays(images, rows, index.table["label"].to_numpy(), index.table["patient"].to_numpy(), grid,
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
        result = search_arrays(images, rows, labels, groups, {"learning_rate": rates, "filters": [(4,)],
                                                            "lstm_units": [4]}, folds=2, epochs=1, image_size=16,
                             verbose=False, balancing="class_weight")
        return result.folds[result.folds["learning_rate"] == "0.003"].reset_index(drop=True)

    alone, after = scores([3e-3]), scores([3e-2, 3e-3])
    np.testing.assert_allclose(after["roc_auc"], alone["roc_auc"], atol=1e-6)
    np.testing.assert_allclose(after["balanced_accuracy"], alone["balanced_accuracy"], atol=1e-6)


def test_the_search_draws_its_rows_from_the_train_and_validation_parts_only(tiny_sample: Path) -> None:
    from bc_helpers.training.trainer import load_data

    config = TrainConfig(dataset="sample", data_dir=str(tiny_sample / "idc"), image_size=16, seed=3)
    _, _, parts = load_data(config)
    images, rows, labels, groups = search_rows(config, SearchBudget(images=80))
    assert len(rows) == 80 and len(set(rows)) == 80 and not (parts[rows] == "test").any()
    assert len(labels) == len(groups) == 80
    again = search_rows(config, SearchBudget(images=80))[1]
    other = search_rows(TrainConfig(dataset="sample", data_dir=str(tiny_sample / "idc"), image_size=16, seed=4),
                        SearchBudget(images=80))[1]
    assert (again == rows).all() and not np.array_equal(other, rows)


@pytest.mark.slow
def test_a_search_from_a_config_builds_every_setting_with_its_hparams(tiny_sample: Path) -> None:
    config = TrainConfig(dataset="sample", data_dir=str(tiny_sample / "idc"), model="cnn", image_size=16,
                         hparams={"filters": (4,), "dense": 4})
    result = grid_search(config, {"learning_rate": [1e-3, 1e-2]}, SearchBudget(images=60, folds=2, epochs=1))
    assert len(result.table) == 2 and len(result.folds) == 4
    assert result.learning_rate in (1e-3, 1e-2) and result.best == {}
    assert result.train_config(config).hparams == config.hparams


def test_the_search_takeaway_weighs_the_gap_against_the_wider_spread() -> None:
    import pandas as pd

    from bc_helpers.course.lesson import search_takeaway
    from bc_helpers.training.gridsearch import GridResult

    table = pd.DataFrame({"mean_roc_auc": [0.75, 0.67], "std_roc_auc": [0.047, 0.161]})
    folds = pd.DataFrame({"fold": [0, 1, 0, 1]})
    text = search_takeaway(GridResult(table, folds, {}, learning_rate=1e-3))
    assert ("0.080 behind (± 0.161 over its folds), smaller than the wider fold-to-fold spread of the two, 0.161"
            in text)  # 0.080 < 0.161, though > 0.047
    table["std_roc_auc"] = [0.047, 0.05]
    assert "larger than the wider fold-to-fold spread of the two, 0.050" in search_takeaway(
        GridResult(table, folds, {}, learning_rate=1e-3))
