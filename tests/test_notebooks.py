"""Every notebook keeps the course's shape: first-cell order, the generated badges and setup cell, a typed
`parameters` cell declaring only what the notebook uses, exercises with solutions, a quiz, no stored outputs."""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import papermill
import pytest

from bc_helpers import paths
from bc_helpers.course import cells as course

NOTEBOOKS = sorted((paths.repo_root() / "notebooks").glob("*.ipynb"))
ORDER = ["00_index", "01_data_exploration", "02_preprocessing_and_balancing", "03_cnn", "04_lstm", "05_gru",
         "06_vgg16", "07_resnet50", "08_cnn_lstm", "09_comparison"]
PARAMETERS = 3  # the position of the tagged parameters cell
NUMBERED = re.compile(r"^\d+\.\s", re.MULTILINE)
DETAILS = re.compile(r"<details>.*?</details>", re.DOTALL)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _text(cell: dict) -> str:
    return "".join(cell["source"])


def _names(source: str) -> set[str]:
    """Every name a code cell reads or writes (IPython magics and shell lines dropped)."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    return {node.id for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Name)}


def _sections(path: Path) -> dict[str, str]:
    """The notebook's markdown by level-2 heading (the heading's text -> what follows it, until the next)."""
    markdown = "\n".join(_text(c) for c in _cells(path) if c["cell_type"] == "markdown")
    parts = re.split(r"^## (.+)$", markdown, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_course_has_its_notebooks_in_order() -> None:
    assert [p.stem for p in NOTEBOOKS] == ORDER


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_cells_follow_the_course_order(path: Path) -> None:
    cells = _cells(path)
    title, learn, setup, params = cells[:4]
    assert title["cell_type"] == "markdown" and _text(title).startswith("# ")
    assert learn["cell_type"] == "markdown" and _text(learn).startswith("## What you will learn")
    assert setup["cell_type"] == "code"
    assert params["cell_type"] == "code" and params["metadata"].get("tags") == ["parameters"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_badges_and_setup_cell_are_the_generated_ones(path: Path) -> None:
    """Both come from pyproject's [project.urls]: `python -m bc_helpers notebooks --sync` rewrites them. This also
    keeps the setup cell identical in every notebook."""
    url = course.repository_url()
    cells = _cells(path)
    assert _text(cells[course.TITLE]) == course.title_cell(_text(cells[course.TITLE]), url, path.stem)
    assert _text(cells[course.SETUP]) == course.setup_cell(url)
    assert f"/blob/main/notebooks/{path.stem}.ipynb" in _text(cells[course.TITLE])
    assert f"(https://kaggle.com/kernels/welcome?src={url}/blob/main/notebooks/{path.stem}.ipynb)" in _text(
        cells[course.TITLE])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_are_typed_commented_and_used(path: Path) -> None:
    declared = papermill.inspect_notebook(str(path))
    for name, info in declared.items():
        assert info["inferred_type_name"] != "None", f"{name} has no type annotation"
        assert info["help"], f"{name} has no comment"
    if "DATASET" in declared:
        assert declared["DATASET"]["default"] == '"sample"'
    used = set().union(*(_names(_text(c)) for c in _cells(path)[PARAMETERS + 1:] if c["cell_type"] == "code"))
    assert not declared.keys() - used, f"declared but never used: {sorted(declared.keys() - used)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_derived_values_come_after_the_parameters(path: Path) -> None:
    declared = set(papermill.inspect_notebook(str(path)))
    before = [c for c in _cells(path)[:PARAMETERS] if c["cell_type"] == "code"]
    for cell in before:
        assert not _names(_text(cell)) & declared, _text(cell)[:80]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_have_solutions_and_a_quiz_closes_the_notebook(path: Path) -> None:
    sections = _sections(path)
    exercises = next((body for head, body in sections.items() if head.startswith("Exercises")), None)
    assert exercises is not None, "no `## Exercises` section"
    asked = len(NUMBERED.findall(DETAILS.sub("", exercises)))
    # Exercises a student does are code cells tagged `exercise`, their solutions hidden code cells
    # (tests/test_solutions.py checks them); a notebook without them reveals each solution in a <details>.
    tagged = any("exercise" in c.get("metadata", {}).get("tags", []) for c in _cells(path))
    assert tagged or (asked >= 1 and len(DETAILS.findall(exercises)) >= asked), "every exercise needs a solution"
    head, quiz = list(sections.items())[-1]
    assert "quiz" in head.lower(), "the last section is the self-check quiz"
    assert 5 <= len(NUMBERED.findall(DETAILS.sub("", quiz))) <= 10 and DETAILS.search(quiz)


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


def test_sync_rewrites_only_the_two_generated_cells_and_is_idempotent(tmp_path: Path) -> None:
    """A fork's address reaches the badges and the clone; every other cell stays byte for byte."""
    source = paths.repo_root() / "notebooks" / "03_cnn.ipynb"
    copy = tmp_path / source.name
    copy.write_text(source.read_text())
    fork = "https://github.com/someone/bc-fork"
    assert course.sync_notebooks(tmp_path, fork) == [copy]
    before, after = _cells(source), _cells(copy)
    assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [course.TITLE, course.SETUP]
    assert "github/someone/bc-fork/blob/main/notebooks/03_cnn.ipynb" in _text(after[course.TITLE])
    assert '"https://github.com/someone/bc-fork"' in _text(after[course.SETUP]) and "/content/bc-fork" in _text(
        after[course.SETUP])
    assert _text(after[course.TITLE]).splitlines()[0] == _text(before[course.TITLE]).splitlines()[0]
    text = copy.read_text()
    assert course.sync_notebooks(tmp_path, fork) == [] and copy.read_text() == text


def test_the_address_comes_from_pyproject_and_must_be_on_github(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[project.urls]\n'
                                             'Repository = "https://github.com/someone/bc-fork"\n')
    assert course.repository_url(tmp_path) == "https://github.com/someone/bc-fork"
    assert course.github_slug("https://github.com/someone/bc-fork.git") == "someone/bc-fork"
    with pytest.raises(course.WorkbookError, match="project.urls"):
        course.github_slug("https://gitlab.com/someone/bc-fork")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(course.WorkbookError, match="Repository"):
        course.repository_url(tmp_path)


def test_quiet_stderr_hides_what_native_code_writes_and_restores_it(capfd: pytest.CaptureFixture[str]) -> None:
    """What setup() wraps TensorFlow's first import in: C++ writes to file descriptor 2 vanish, then come back."""
    from bc_helpers.course.notebook import quiet_stderr

    with quiet_stderr():
        os.write(2, b"oneDNN custom operations are on\n")
    os.write(2, b"visible again\n")
    assert capfd.readouterr().err == "visible again\n"


def _lesson_lines(path: Path) -> set[str]:
    """A notebook's code lines of 30+ characters, its imports, parameters and setup cells left out."""
    cells = [c for c in _cells(path)[PARAMETERS + 1:] if c["cell_type"] == "code"]
    lines = (line.strip() for c in cells for line in _text(c).splitlines())
    return {line for line in lines if len(line) >= 30 and not line.startswith(("import ", "from ", "#"))}


def test_the_lesson_procedure_is_written_once_in_the_package() -> None:
    """A line copied into three or more notebooks is a procedure that belongs in bc_helpers (at most 8 remain:
    calls so short that a function around them would hide the step from the student)."""
    seen: dict[str, int] = {}
    for path in NOTEBOOKS:
        for line in _lesson_lines(path):
            seen[line] = seen.get(line, 0) + 1
    copied = sorted(line for line, n in seen.items() if n >= 3)
    assert len(copied) <= 8, "\n".join(copied)
