"""Kaggle: the datasets attached to a Kaggle notebook, read where Kaggle mounts them (read-only, under
/kaggle/input), with runs and the cache in /kaggle/working. Imports only the standard library and the workbook's
layout rules, so the setup cell can call it right after the install.

Attach, in a Kaggle notebook: *Add Input* > Datasets > `paultimothymooney/breast-histopathology-images` (IDC)
and `forderation/breakhis-400x` (BreaKHis 400X). No Kaggle token and no download are needed there."""

from __future__ import annotations

import os
from pathlib import Path

from ..data.layouts import IDC_DUPLICATE_TREE, looks_like

# Where Kaggle mounts attached datasets and where a notebook may write; the environment variables move them
# (tests simulate Kaggle in a temporary folder). The setup cell recognises a Kaggle kernel by
# KAGGLE_KERNEL_RUN_TYPE ("Interactive" or "Batch"), which Kaggle sets in every one.
INPUT = "/kaggle/input"
WORKING = "/kaggle/working"
DEPTH = 3  # /kaggle/input/<dataset>/ or, in Kaggle's newer paths, /kaggle/input/datasets/<owner>/<dataset>/


def input_root() -> Path:
    return Path(os.environ.get("BC_KAGGLE_INPUT", INPUT))


def working_root() -> Path:
    return Path(os.environ.get("BC_KAGGLE_WORKING", WORKING))


def _folders(root: Path) -> list[Path]:
    """Folders up to DEPTH levels below `root`, shallowest first, never inside IDC's duplicate tree."""
    found, level = [], [root]
    for _ in range(DEPTH):
        level = [c for p in level for c in sorted(p.iterdir()) if c.is_dir() and c.name != IDC_DUPLICATE_TREE]
        found += level
    return found


def attached(root: Path | None = None) -> dict[str, Path]:
    """{dataset: folder} of the datasets attached under `root`: 'idc', the folder holding the archive's patient
    folders (its duplicate IDC_regular_ps50_idx5 tree is skipped by the indexer); 'breakhis', the folder holding
    `BreaKHis 400X/{train,test}`."""
    root = root or input_root()
    if not root.is_dir():
        return {}
    found: dict[str, Path] = {}
    for folder in _folders(root):
        if "idc" not in found and any(c.name.isdigit() for c in folder.iterdir()) and looks_like(folder, "idc"):
            found["idc"] = folder
        if "breakhis" not in found and folder.name == "BreaKHis 400X" and looks_like(folder.parent, "breakhis_kaggle"):
            found["breakhis"] = folder.parent
    return found


def environment(root: Path | None = None, working: Path | None = None) -> dict[str, str]:
    """Data, runs and cache under /kaggle/working; each attached dataset's folder as BC_<DATASET>_DIR, which the
    notebooks read when DATA_DIR is empty."""
    working = working or working_root()
    env = {"BC_DATA_DIR": str(working / "data"), "BC_RUNS_BASE": str(working),
           "BC_CACHE_DIR": str(working / "data" / "cache")}
    env |= {f"BC_{name.upper()}_DIR": str(folder) for name, folder in attached(root).items()}
    return env


def use_kaggle(root: Path | None = None, working: Path | None = None) -> dict[str, str]:
    """In a Kaggle kernel: set the environment above and say what was found."""
    env = environment(root, working)
    os.environ.update(env)
    print(f"Kaggle: runs and cache in {env['BC_RUNS_BASE']}")
    for name, label in (("idc", "IDC"), ("breakhis", "BreaKHis 400X")):
        folder = env.get(f"BC_{name.upper()}_DIR")
        print(f"Kaggle: {label} from {folder} (DATASET='{name}')" if folder else
              f"Kaggle: no {label} attached (Add Input > Datasets; see notebook 00)")
    return env
