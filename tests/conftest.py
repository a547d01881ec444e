"""Shared fixtures: tiny datasets drawn on the fly, the real subsets in ../shared/data, an isolated cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bc_helpers.data.layouts import format_idc, idc_path
from bc_helpers.data.sample import SampleSpec, write_sample

# The small real subsets beside the repository (developers and CI only): ../shared/data.
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
idc_name = format_idc  # the tests' short name for an IDC file name


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache folder, so no test sees another's cached index or arrays."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("BC_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def shared_idc() -> Path:
    path = SHARED / "idc_sample"
    if not path.is_dir():
        pytest.skip(f"real IDC subset not found at {path} (only developers and CI have ../shared)")
    return path


@pytest.fixture
def shared_cohort() -> Path:
    path = SHARED / "idc_cohort"
    if not path.is_dir():
        pytest.skip(f"real IDC cohort not found at {path} (only developers and CI have ../shared)")
    return path


@pytest.fixture
def shared_breakhis() -> Path:
    path = SHARED / "breakhis_sample"
    if not path.is_dir():
        pytest.skip(f"real BreaKHis subset not found at {path} (only developers and CI have ../shared)")
    return path


def write_png(path: Path, size: tuple[int, int] = (50, 50), mode: str = "RGB", seed: int = 0) -> Path:
    """A small random image at `path` (width, height)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).convert(mode).save(path)
    return path


def make_idc_tree(root: Path, patients: dict[str, tuple[int, int]]) -> Path:
    """An IDC-layout tree: {patient: (negatives, positives)}."""
    for p, counts in patients.items():
        for label, n in enumerate(counts):
            for k in range(n):
                write_png(idc_path(root, p, 1 + 50 * k, 1 + 50 * label, label), seed=k)
    return root


@pytest.fixture(scope="session")
def tiny_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic sample (12 IDC-like patients, 8 BreaKHis-like), made once per session."""
    out = tmp_path_factory.mktemp("sample") / "s"
    spec = SampleSpec(patients=12, patches_per_patient=(30, 50), breakhis_patients=8, breakhis_images=(3, 5),
                      breakhis_shape=(92, 140))
    write_sample(out, spec)
    return out


# The fake executed run of the book's tests: {executed notebook: (its parameters, its title)}, written in an order
# that is not the course's (08's paper split sorts before its patient split by name, and must come after it).
FAKE_RUN = {
    "08_cnn_lstm-sample-paper": ({"DATASET": "sample", "PROTOCOL": "paper"}, "08 · The paper's CNN-LSTM"),
    "03_cnn-sample-patient": ({"DATASET": "sample", "PROTOCOL": "patient"}, "03 · A plain CNN"),
    "08_cnn_lstm-sample-patient": ({"DATASET": "sample", "PROTOCOL": "patient"}, "08 · The paper's CNN-LSTM"),
    "00_index": ({}, "The course map"),
}
FAKE_EQUATION = r"\mathrm{BCE} = -\frac{1}{n}\sum_{i=1}^{n} y_i \log p_i"


@pytest.fixture(scope="session")
def fake_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder as `make run` leaves it, in miniature: tiny executed notebooks (papermill's parameters, a
    LaTeX equation, a link to another notebook and to the paper notes, a Colab badge, a PNG figure and printed
    text), each rendered by the runner, and the report."""
    import base64
    import io

    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    from bc_helpers.course.report import write_report
    from bc_helpers.course.runner import write_html

    run = tmp_path_factory.mktemp("fake-run")
    png = io.BytesIO()
    Image.fromarray(np.full((20, 30, 3), 200, dtype=np.uint8)).save(png, format="PNG")
    figure = base64.b64encode(png.getvalue()).decode()
    for label, (params, title) in FAKE_RUN.items():
        markdown = (f"# {title}\n\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                    f"(https://colab.research.google.com/github/x/y/blob/main/notebooks/{label}.ipynb)\n\n"
                    f"The loss: $${FAKE_EQUATION}$$ read with [the CNN](03_cnn.ipynb#Training) and "
                    "[the paper notes](paper_notes.md); [what to do](../README.md#troubleshooting).")
        code = new_code_cell("plot_curves(history)", execution_count=1, outputs=[
            new_output("stream", name="stdout", text=f"trained {label}\n"),
            new_output("display_data", data={"image/png": figure, "text/plain": "<Figure size 300x200>"})])
        nb = new_notebook(cells=[new_markdown_cell(markdown), code])
        nb.metadata["papermill"] = {"parameters": params}
        (run / "notebooks").mkdir(exist_ok=True)
        nbformat.write(nb, run / "notebooks" / f"{label}.ipynb")
        write_html(run / "notebooks" / f"{label}.ipynb")
    write_report(run, ["sample"], {}, 1.0)
    return run
