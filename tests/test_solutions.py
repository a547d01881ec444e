"""The exercises' solutions that a student reveals are the code that runs: every Python block inside a
`<details>` block of these notebooks is also a code cell's body, so nbval and papermill execute it."""

from __future__ import annotations

import json
import re

import pytest

from bc_helpers import paths

NOTEBOOKS = ["01_data_exploration", "02_preprocessing_and_balancing"]
DETAILS = re.compile(r"<details>.*?</details>", re.DOTALL)
PYTHON = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _cells(stem: str) -> list[dict]:
    return json.loads((paths.repo_root() / "notebooks" / f"{stem}.ipynb").read_text())["cells"]


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_every_revealed_solution_runs_as_a_code_cell(stem: str) -> None:
    cells = _cells(stem)
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    blocks = [b for details in DETAILS.findall(markdown) for b in PYTHON.findall(details)]
    assert blocks, "no solution code in <details> blocks"
    for block in blocks:
        assert any(block.strip() in cell for cell in code), f"solution not run by any code cell:\n{block[:200]}"
