"""The grid search's outcome, kept beside the runs: hyperparameters are chosen once, on the patient split, and
the same setting is then trained under every protocol (so the leak compares one model, not two tunings)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..files import write_csv_atomic, write_json_atomic

if TYPE_CHECKING:  # gridsearch imports TensorFlow; the runner reads choices without it
    from ..training.gridsearch import GridResult

FOLDER = "grid_search"  # <RUN_DIR>/<dataset>/<protocol>/grid_search/{choice.json, folds.csv, table.csv}
TUNED_PROTOCOL = "patient"


def search_dir(root: str | Path, dataset: str, protocol: str = TUNED_PROTOCOL) -> Path:
    return Path(root) / dataset / protocol / FOLDER


def save_search(result: GridResult, folder: str | Path, hparams: dict, learning_rate: float) -> Path:
    """Write the search's per-fold scores, its summary table and the chosen setting (with the fixed
    hyperparameters it was searched around) into `folder`; returns choice.json's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(folder / "folds.csv", result.folds)
    write_csv_atomic(folder / "table.csv", result.table)
    return write_json_atomic(folder / "choice.json", {"hparams": hparams, "learning_rate": learning_rate,
                                                     "best": {k: _plain(v) for k, v in result.best.items()}})


def load_choice(root: str | Path, dataset: str) -> dict | None:
    """The setting chosen on `dataset`'s patient split ({"hparams", "learning_rate", "best"}), if searched."""
    path = search_dir(root, dataset) / "choice.json"
    return json.loads(path.read_text()) if path.exists() else None


def load_folds(root: str | Path) -> pd.DataFrame:
    """Every saved search's per-fold scores under `root`, with its dataset and protocol."""
    frames = [pd.read_csv(path).assign(dataset=path.parents[2].name, protocol=path.parents[1].name)
              for path in sorted(Path(root).rglob(f"{FOLDER}/folds.csv"))]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _plain(value: object) -> object:
    """JSON-friendly: tuples (e.g. filters) as lists."""
    return list(value) if isinstance(value, tuple) else value
