"""A simulated Kaggle notebook: a read-only input folder laid out as Kaggle attaches the two datasets (IDC with
its duplicate IDC_regular_ps50_idx5 tree, BreaKHis 400X), built from ../shared/data; the setup cell taking its
Kaggle branch; notebook 01 run on the attached IDC; and nothing written into the input."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import papermill
import pytest

from bc_helpers import paths
from bc_helpers.course import kaggle, runner
from bc_helpers.data.datasets import index_dataset
from bc_helpers.data.layouts import IDC_DUPLICATE_TREE

PATIENTS = 3  # of the shared IDC subset's patients: enough for 01, quick to index
IDC = "breast-histopathology-images"  # the folder names Kaggle gives the two datasets
BREAKHIS = "breakhis-400x"


def _listing(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under `root` with its mode, size and mtime (ns)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            found[str(path.relative_to(root))] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return found


@pytest.fixture
def kaggle_input(tmp_path: Path, shared_idc: Path, shared_breakhis: Path) -> Path:
    """/kaggle/input as Kaggle lays it out, copied (a write through a link would reach ../shared) and read-only."""
    root = tmp_path / "input"
    for patient in sorted(p for p in shared_idc.iterdir() if p.is_dir())[:PATIENTS]:
        shutil.copytree(patient, root / IDC / patient.name)
        shutil.copytree(patient, root / IDC / IDC_DUPLICATE_TREE / patient.name)
    shutil.copytree(shared_breakhis / "BreaKHis 400X", root / BREAKHIS / "BreaKHis 400X")
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    yield root
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_kaggle_attached_datasets_are_found_where_kaggle_mounts_them(kaggle_input: Path) -> None:
    assert kaggle.attached(kaggle_input) == {"idc": kaggle_input / IDC, "breakhis": kaggle_input / BREAKHIS}
    assert kaggle.attached(kaggle_input / "nowhere") == {}
    env = kaggle.environment(kaggle_input, Path("/kaggle/working"))
    assert env["BC_RUNS_BASE"] == "/kaggle/working" and env["BC_CACHE_DIR"].startswith("/kaggle/working/")
    assert env["BC_IDC_DIR"] == str(kaggle_input / IDC)


def test_kaggle_notebook_01_runs_on_the_attached_data_and_writes_nothing_into_it(
        kaggle_input: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _listing(kaggle_input)
    working = tmp_path / "working"
    working.mkdir()
    root = paths.repo_root()
    for name, value in {"KAGGLE_KERNEL_RUN_TYPE": "Interactive", "BC_KAGGLE_INPUT": str(kaggle_input),
                        "BC_KAGGLE_WORKING": str(working), "BC_HOME": str(root), "PYTHONPATH": str(root)}.items():
        monkeypatch.setenv(name, value)
    for name in ("BC_DATA_DIR", "BC_RUNS_BASE", "BC_CACHE_DIR", "BC_IDC_DIR", "BC_BREAKHIS_DIR"):
        monkeypatch.delenv(name, raising=False)
    target = tmp_path / "01.ipynb"
    with runner.this_kernel(tmp_path / "kernel"):
        papermill.execute_notebook(str(root / "notebooks" / "01_data_exploration.ipynb"), str(target),
                                   parameters={"DATASET": "idc", "N_SHOW": 4}, kernel_name="python3",
                                   cwd=str(root / "notebooks"), progress_bar=False)
    text = target.read_text()
    assert f"Kaggle: IDC from {kaggle_input / IDC} (DATASET='idc')" in text
    assert f"Kaggle: BreaKHis 400X from {kaggle_input / BREAKHIS}" in text
    assert any((working / "data" / "cache").iterdir())  # the index was cached in /kaggle/working
    # BreaKHis through the same environment, in this process (the kernel's is gone)
    for name, value in kaggle.environment().items():
        monkeypatch.setenv(name, value)
    index = index_dataset("breakhis")
    assert index.summary()["images"] == 8
    assert _listing(kaggle_input) == before
