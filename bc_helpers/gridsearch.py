"""Grid search with cross-validation grouped by patient (StratifiedGroupKFold), on training data only."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import ParameterGrid, StratifiedGroupKFold

from .inference import predict_probabilities
from .models import build_model, compile_model, targets_for
from .pipeline import make_dataset
from .runtime import keras, set_seed, tf_log_level

# Small enough to finish in minutes on the sample; the paper's Table 2 values are not published.
DEFAULT_GRID: dict[str, list] = {"filters": [(16, 32, 64), (32, 64, 128)], "lstm_units": [32, 128]}
COMPILE_KEYS = ("learning_rate",)


@dataclass
class GridResult:
    table: pd.DataFrame  # one row per setting: its values, mean and std of each score over the folds
    folds: pd.DataFrame  # one row per setting and fold
    best: dict  # the best setting (highest mean validation ROC-AUC), ready for build_model / TrainConfig


def grouped_folds(labels: np.ndarray, groups: np.ndarray, n_splits: int = 5, seed: int = 0) -> list:
    """Stratified folds in which every patient falls in exactly one validation fold."""
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(folds.split(np.zeros(len(labels)), labels, groups))


@tf_log_level("ERROR")  # a new model per fold retraces predict by design: not worth a warning
def grid_search(
    images: np.ndarray, rows: np.ndarray, labels: np.ndarray, groups: np.ndarray, grid: dict | None = None,
    model: str = "cnn_lstm", folds: int = 5, epochs: int = 2, image_size: int = 50, batch_size: int = 64,
    seed: int = 0, verbose: bool = True,
) -> GridResult:
    """Score every setting of `grid` by grouped k-fold CV over images[rows] (the train and validation parts)."""
    grid = DEFAULT_GRID if grid is None else grid
    splits = grouped_folds(labels, groups, folds, seed)
    records = []
    for k, setting in enumerate(ParameterGrid(grid)):
        hparams = {key: v for key, v in setting.items() if key not in COMPILE_KEYS}
        lr = setting.get("learning_rate", 1e-3)
        for fold, (fit_idx, val_idx) in enumerate(splits):
            set_seed(seed + fold)
            start = time.perf_counter()
            net = compile_model(build_model(model, image_size=image_size, **hparams), lr)
            net.fit(make_dataset(images, targets_for(net, labels[fit_idx]), batch_size, True, seed, rows[fit_idx]),
                    epochs=epochs, shuffle=False, verbose=0)
            prob = predict_probabilities(net, images, rows[val_idx])
            y = labels[val_idx]
            records.append({"setting": k, **{key: str(v) for key, v in setting.items()}, "fold": fold,
                            "roc_auc": roc_auc_score(y, prob) if len(set(y)) == 2 else np.nan,
                            "balanced_accuracy": balanced_accuracy_score(y, prob >= 0.5),
                            "seconds": time.perf_counter() - start})
            keras.backend.clear_session()
            if verbose:
                print(f"setting {k} {setting} fold {fold + 1}/{folds}: ROC-AUC {records[-1]['roc_auc']:.3f}")
    per_fold = pd.DataFrame(records)
    keys = ["setting", *grid.keys()]
    table = per_fold.groupby(keys, sort=False)[["roc_auc", "balanced_accuracy", "seconds"]].agg(["mean", "std"])
    table.columns = [f"{stat}_{name}" for name, stat in table.columns]
    table = table.reset_index().sort_values("mean_roc_auc", ascending=False, ignore_index=True)
    best = dict(list(ParameterGrid(grid))[int(table.loc[0, "setting"])])
    return GridResult(table, per_fold, best)
