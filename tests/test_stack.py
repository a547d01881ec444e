"""Notebooks 00-03 executed with small parameters in this environment. `make test-colab` runs them (with the unit
tests) in the environment built from constraints/colab.txt, Colab's versions, so that the next Colab upgrade
fails in CI rather than in a student's notebook. `make test` leaves them out (-m "not stack"): nbval runs every
notebook there, at its defaults, on the newest releases."""

from __future__ import annotations

from pathlib import Path

import papermill
import pytest

from bc_helpers import paths
from bc_helpers.course import runner

NOTEBOOKS = ["00_index", "01_data_exploration", "02_preprocessing_and_balancing", "03_cnn"]
# 03 at its defaults trains for minutes; one epoch, one learning rate and a few hundred images check the same code.
SMALL = {"03_cnn": {"EPOCHS": 1, "LEARNING_RATES": [1e-3], "GRID_MAX_IMAGES": 160, "MAX_TRAIN_IMAGES": 240}}


@pytest.mark.stack
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_with_small_parameters(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BC_RUNS_BASE", str(tmp_path / "runs"))
    source = paths.repo_root() / "notebooks" / f"{name}.ipynb"
    target = tmp_path / f"{name}.ipynb"
    with runner.this_kernel(tmp_path / "kernel"):
        papermill.execute_notebook(str(source), str(target), parameters=SMALL.get(name, {}), kernel_name="python3",
                                   cwd=str(source.parent), progress_bar=False)
    assert target.stat().st_size > source.stat().st_size  # the executed copy holds the outputs
