"""Every notebook keeps the course's shape: first-cell order, a typed `parameters` cell, no stored outputs."""

from __future__ import annotations

import json
from pathlib import Path

import papermill
import pytest

from bc_helpers import paths

NOTEBOOKS = sorted((paths.repo_root() / "notebooks").glob("*.ipynb"))
DOCUMENTED = {"DATASET", "DATA_DIR", "IMAGE_SIZE", "EPOCHS", "BATCH_SIZE", "PROTOCOL", "BALANCE", "SEED", "RUN_DIR"}
ORDER = ["00_index", "01_data_exploration", "02_preprocessing_and_balancing", "03_cnn", "04_lstm", "05_gru",
         "06_vgg16", "07_resnet50", "08_cnn_lstm", "09_comparison"]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _text(cell: dict) -> str:
    return "".join(cell["source"])


def test_the_course_has_its_notebooks_in_order() -> None:
    assert [p.stem for p in NOTEBOOKS] == ORDER


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_cells_follow_the_course_order(path: Path) -> None:
    cells = _cells(path)
    title, learn, setup, params = cells[:4]
    assert title["cell_type"] == "markdown" and _text(title).startswith("# ")
    assert "colab.research.google.com/github/" in _text(title) and f"notebooks/{path.stem}.ipynb" in _text(title)
    assert "mybinder.org" in _text(title)
    assert learn["cell_type"] == "markdown" and _text(learn).startswith("## What you will learn")
    assert setup["cell_type"] == "code" and "google.colab" in _text(setup) and "setup()" in _text(setup)
    assert params["cell_type"] == "code" and params["metadata"].get("tags") == ["parameters"]
    assert _text(cells[-1]).startswith("## Exercises")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_are_documented_typed_and_commented(path: Path) -> None:
    declared = papermill.inspect_notebook(str(path))
    assert DOCUMENTED <= declared.keys()
    for name, info in declared.items():
        assert info["inferred_type_name"] != "None", f"{name} has no type annotation"
        assert info["help"], f"{name} has no comment"
    assert declared["DATASET"]["default"] == '"sample"'


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_clean(path: Path) -> None:
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb["metadata"]
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_cell_longer_than_a_screen(path: Path) -> None:
    for cell in _cells(path):
        assert len(_text(cell).splitlines()) <= 30, _text(cell)[:80]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_derived_values_come_after_the_parameters(path: Path) -> None:
    setup = _text(_cells(path)[2])
    assert not any(name in setup for name in DOCUMENTED)
