"""Exercises a student does (bc_helpers.course.exercises): in 02-08, at least two code cells tagged `exercise`
with a `TODO`, each followed by a `check` cell and then by a hidden `solution` cell that fills the TODO when
RUN_SOLUTIONS is on (CI runs every solution); and a solution revealed in markdown is code that runs."""

from __future__ import annotations

import json
import re

import pytest

from bc_helpers import paths

NOTEBOOKS = sorted(p.stem for p in (paths.repo_root() / "notebooks").glob("*.ipynb"))
WITH_EXERCISES = ["02_preprocessing_and_balancing", "03_cnn", "04_lstm", "05_gru", "06_vgg16", "07_resnet50",
                  "08_cnn_lstm"]
DETAILS = re.compile(r"<details>.*?</details>", re.DOTALL)
PYTHON = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _cells(stem: str) -> list[dict]:
    return json.loads((paths.repo_root() / "notebooks" / f"{stem}.ipynb").read_text())["cells"]


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("stem", WITH_EXERCISES)
def test_exercises_have_a_todo_a_check_and_a_hidden_solution_after_them(stem: str) -> None:
    cells = _cells(stem)
    exercises = [i for i, c in enumerate(cells) if "exercise" in _tags(c)]
    assert len(exercises) >= 2, f"{stem}: {len(exercises)} exercise cells (tagged 'exercise'), at least 2 expected"
    for i in exercises:
        assert cells[i]["cell_type"] == "code" and "TODO" in "".join(cells[i]["source"]), f"{stem} cell {i}"
        after = cells[i + 1:]
        check = next((k for k, c in enumerate(after) if "check" in _tags(c)), None)
        solution = next((k for k, c in enumerate(after) if "solution" in _tags(c)), None)
        assert check is not None and solution is not None and check < solution, f"{stem} cell {i}: check, then solution"
        hidden = after[solution].get("metadata", {}).get("jupyter", {}).get("source_hidden")
        assert hidden, f"{stem}: the solution of cell {i} is not hidden"
        assert "RUN_SOLUTIONS" in "".join(after[solution]["source"]), f"{stem}: a solution runs under RUN_SOLUTIONS"


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_every_solution_revealed_in_markdown_runs_as_a_code_cell(stem: str) -> None:
    cells = _cells(stem)
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    code = ["\n".join(line.strip() for line in "".join(c["source"]).splitlines())
            for c in cells if c["cell_type"] == "code"]
    for block in (b for details in DETAILS.findall(markdown) for b in PYTHON.findall(details)):
        flat = "\n".join(line.strip() for line in block.strip().splitlines())
        assert any(flat in cell for cell in code), f"{stem}: solution not run by any code cell:\n{block[:200]}"
