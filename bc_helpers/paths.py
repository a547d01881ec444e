"""Where things live: the repository root, the data and the cache."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The workbook's root: the folder holding pyproject.toml and notebooks/, else BC_HOME or ~/bc_workbook."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists() and (here / "notebooks").is_dir():
        return here
    return Path(os.environ.get("BC_HOME", Path.home() / "bc_workbook"))


def data_dir() -> Path:
    """Datasets, the sample and the cache; BC_DATA_DIR overrides."""
    return Path(os.environ.get("BC_DATA_DIR", repo_root() / "data"))


def cache_dir() -> Path:
    """Decoded arrays and cached indexes; BC_CACHE_DIR overrides."""
    path = Path(os.environ.get("BC_CACHE_DIR", data_dir() / "cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path

