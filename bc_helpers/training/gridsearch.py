"""Grid search with cross-validation grouped by patient (StratifiedGroupKFold), on training data only."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import ParameterGrid, StratifiedGroupKFold

from ..data.balance import balance
from ..models.builders import targets_for
from ..models.pipeline import make_dataset
from ..models.pool import ModelPool, shared_pool
from ..models.runtime import keras, set_seed, tf, tf_log_level
from ..runs.folders import TrainConfig
from .inference import predict_probabilities
from .trainer import load_data

# The dimensions of the paper's Table 2 search (its values are not published): filters, kernel size,
# activation, pooling, dropout and learning rate. One factor at a time around the defaults of
# models.cnn_lstm: 7 settings, not the 2**6 = 64 of a full factorial, so that it fits the default run.
DEFAULT_GRID: list[dict[str, list]] = [
    {"learning_rate": [1e-3, 3e-4]},
    {"filters": [(16, 32, 64)]},
    {"kernel_size": [5]},
    {"activation": ["elu"]},
    {"pooling": ["avg"]},
    {"conv_dropout": [0.3]},
]
COMPILE_KEYS = ("learning_rate",)  # settings of the training, not of the model: TrainConfig.learning_rate


@dataclass(frozen=True)
class SearchBudget:
    """How much a search may spend: images of the train and validation parts (drawn once, by the config's seed),
    patient-grouped folds, and epochs per fit (a search compares settings; it does not finish training)."""

    images: int = 400
    folds: int = 2
    epochs: int = 1


@dataclass
class GridResult:
    table: pd.DataFrame  # one row per setting: its values, mean and std of each score over the folds
    folds: pd.DataFrame  # one row per setting and fold (the spread across folds)
    best: dict  # the best setting's model hyperparameters (highest mean validation ROC-AUC), for build_model
    learning_rate: float | None = None  # the best setting's learning rate, when the grid has one
    budget: SearchBudget | None = None  # what the search could spend, when it was given as a budget
    skipped_folds: tuple[int, ...] = ()  # folds left out because their validation part held one class

    def train_config(self, base: TrainConfig) -> TrainConfig:
        """`base` with the best setting: its model hyperparameters over base.hparams, and its learning rate."""
        lr = base.learning_rate if self.learning_rate is None else self.learning_rate
        return dataclasses.replace(base, hparams={**base.hparams, **self.best}, learning_rate=lr)


def grouped_folds(labels: np.ndarray, groups: np.ndarray, n_splits: int = 5, seed: int = 0) -> list:
    """Stratified folds in which every patient falls in exactly one validation fold."""
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(folds.split(np.zeros(len(labels)), labels, groups))


def search_rows(config: TrainConfig, budget: SearchBudget) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The decoded images and the rows a search may use: never the test part, at most `budget.images` of the rest,
    drawn by the config's seed. Returns (images, rows, labels of rows, patients of rows)."""
    index, images, parts = load_data(config)
    searchable = np.flatnonzero(parts != "test")
    rng = np.random.default_rng(config.seed)
    rows = np.sort(rng.choice(searchable, min(budget.images, len(searchable)), replace=False))
    table = index.table
    return images, rows, table["label"].to_numpy()[rows], table["patient"].astype(str).to_numpy()[rows]


def grid_search(config: TrainConfig, grid: dict | list[dict] | None = None, budget: SearchBudget | None = None,
                verbose: bool = False, pool: ModelPool | None = None) -> GridResult:
    """Score every setting of `grid` (a dict, or a list of dicts as scikit-learn's ParameterGrid takes) around
    `config` (its model, image size, batch size, balancing and seed) by patient-grouped k-fold CV on the training
    and validation parts, within `budget`."""
    budget = SearchBudget() if budget is None else budget
    images, rows, labels, groups = search_rows(config, budget)
    result = search_arrays(images, rows, labels, groups, grid, model=config.model, folds=budget.folds,
                         epochs=budget.epochs, image_size=config.image_size, batch_size=config.batch_size,
                         seed=config.seed, verbose=verbose, balancing=config.balance,
                         pool=shared_pool() if pool is None else pool, base_hparams=config.hparams)
    return dataclasses.replace(result, budget=budget)
def one_class_folds(splits: list, labels: np.ndarray) -> tuple[int, ...]:
    """The folds whose validation part holds one class: ROC-AUC is undefined there, so they cannot score a
    setting, and averaging over the others must be said, not done silently."""
    return tuple(fold for fold, (_, val_idx) in enumerate(splits) if len(np.unique(labels[val_idx])) < 2)


@tf_log_level("ERROR")
def search_arrays(
    images: np.ndarray, rows: np.ndarray, labels: np.ndarray, groups: np.ndarray,
    grid: dict | list[dict] | None = None, model: str = "cnn_lstm", folds: int = 5, epochs: int = 2,
    image_size: int = 50, batch_size: int = 64, seed: int = 0, verbose: bool = True,
    balancing: str = "smote_hybrid", pool: ModelPool | None = None, base_hparams: dict | None = None,
) -> GridResult:
    """`grid_search` on arrays: images[rows] with their labels and patients. Each fold's training part is
    balanced as the final run is (`balancing`: balance.balance's method), its validation part never. Every setting
    builds the model with `base_hparams`, overridden by the setting's own values.

    Every fit starts from the initial weights a fresh build gives under the fold's seed, and a fresh optimizer
    state. Settings that differ only in their learning rate share one compiled model from `pool`
    (bc_helpers.models.pool; default: a pool of its own, dropped at the end)."""
    grid = DEFAULT_GRID if grid is None else grid
    settings = list(ParameterGrid(grid))
    keys = list(dict.fromkeys(k for s in settings for k in s))
    splits = grouped_folds(labels, groups, folds, seed)
    skipped = one_class_folds(splits, labels)
    if skipped:
        message = (f"grid search: fold(s) {', '.join(str(f + 1) for f in skipped)} of {folds} skipped, their "
                   f"validation part holds one class; scores average over {folds - len(skipped)} fold(s)")
        print(message)
    records, own_pool = [], pool is None
    pool = ModelPool() if pool is None else pool
    for fold, (fit_idx, val_idx) in enumerate(splits):
        if fold in skipped:
            continue
        for k, setting in enumerate(settings):
            hparams = {**(base_hparams or {}), **{key: v for key, v in setting.items() if key not in COMPILE_KEYS}}
            start = time.perf_counter()
            set_seed(seed + fold)  # the fold's shuffling and initial weights, the same for every setting
            net = pool.fresh(model, setting.get("learning_rate", 1e-3), image_size=image_size, **hparams)
            net.fit(_fold_dataset(net, images, rows[fit_idx], labels[fit_idx], balancing, batch_size, seed),
                    epochs=epochs, shuffle=False, verbose=0)
            prob = predict_probabilities(net, images, rows[val_idx])
            y = labels[val_idx]
            records.append({"setting": k, **{key: str(setting.get(key, "")) for key in keys}, "fold": fold,
                            "roc_auc": roc_auc_score(y, prob) if len(set(y)) == 2 else np.nan,
                            "balanced_accuracy": balanced_accuracy_score(y, prob >= 0.5),
                            "seconds": time.perf_counter() - start})
            if verbose:
                print(f"fold {fold + 1}/{folds} setting {k} {setting}: ROC-AUC {records[-1]['roc_auc']:.3f}")
    if own_pool:
        pool.clear()
    per_fold = pd.DataFrame(records).sort_values(["setting", "fold"], ignore_index=True)
    summary = {f"{stat}_{name}": (name, stat) for name in ("roc_auc", "balanced_accuracy", "seconds")
               for stat in ("mean", "std")}
    table = per_fold.groupby(["setting", *keys], sort=False).agg(**summary)
    table = table.reset_index().sort_values("mean_roc_auc", ascending=False, ignore_index=True)
    best = settings[int(table["setting"].iloc[0])]
    return GridResult(table, per_fold, {k: v for k, v in best.items() if k not in COMPILE_KEYS},
                      best.get("learning_rate"), skipped_folds=skipped)


def _fold_dataset(net: keras.Model, images: np.ndarray, fit_rows: np.ndarray, fit_labels: np.ndarray,
                  balancing: str, batch_size: int, seed: int) -> tf.data.Dataset:
    """A fold's training batches, balanced like training.train balances the training part."""
    smote = balancing == "smote_hybrid"
    balanced = balance(np.asarray(images[fit_rows]) if smote else images, fit_labels, balancing, seed)
    cw = balanced.class_weight
    weights = None if cw is None else np.where(balanced.labels == 1, cw[1], cw[0]).astype(np.float32)
    source, source_rows = (balanced.images, None) if smote else (images, fit_rows)
    return make_dataset(source, targets_for(net, balanced.labels), batch_size, True, seed, source_rows, weights)
