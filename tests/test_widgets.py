"""Widgets: batch runs are recognised, the first frame is always drawn, the controls follow the data."""

from __future__ import annotations

import base64
import sys
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from bc_helpers import paths  # noqa: E402
from bc_helpers.course import widgets  # noqa: E402

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _table() -> tuple[np.ndarray, pd.DataFrame]:
    # patient a: 20 negatives, 3 positives; patient b: 40 positives
    labels = [0] * 20 + [1] * 3 + [1] * 40
    table = pd.DataFrame({"patient": ["a"] * 23 + ["b"] * 40, "label": labels, "width": 50, "height": 50})
    return np.zeros((len(table), 8, 8, 3), dtype=np.uint8), table


def test_outside_a_kernel_widgets_are_static(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert widgets.interactive_default() is False
    assert widgets.resolve_interactive(True) is True and widgets.resolve_interactive(None) is False


@pytest.mark.parametrize("allow_stdin", [True, False])
def test_a_kernel_follows_its_front_end_s_stdin(monkeypatch: pytest.MonkeyPatch, allow_stdin: bool) -> None:
    kernel = SimpleNamespace(get_parent=lambda: {"content": {"code": "", "allow_stdin": allow_stdin}})
    monkeypatch.setattr("IPython.get_ipython", lambda: SimpleNamespace(kernel=kernel))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert widgets.interactive_default() is allow_stdin


def test_a_real_kernel_is_static_for_nbclient_and_interactive_for_a_front_end() -> None:
    """papermill and nbval run cells through nbclient / jupyter_client with stdin off; JupyterLab with it on."""
    import nbformat
    from jupyter_client.manager import start_new_kernel
    from nbclient import NotebookClient

    code = f"import sys; sys.path.insert(0, {str(paths.repo_root())!r})\n" \
           "from bc_helpers.course.widgets import interactive_default\nprint(interactive_default())"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    assert nb.cells[0].outputs[0]["text"].strip() == "False"
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        printed = []
        kc.execute_interactive(code, allow_stdin=True, timeout=120,
                               output_hook=lambda m: printed.append(m["content"].get("text", "")))
        assert "".join(printed).strip() == "True"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_pages_count_the_selected_patient_and_label() -> None:
    _, table = _table()
    assert [widgets.pages(table, p, label, 16) for p, label in [("a", 0), ("a", 1), ("b", 1), ("b", 0)]] == [
        2, 1, 3, 1]


def test_patch_browser_fits_the_page_slider_and_carries_a_first_frame() -> None:
    images, table = _table()
    viewer = widgets.patch_browser(images, table, interactive=True, per_page=16)
    patient, label, page = viewer.widget.children[0].children
    assert (patient.value, label.value, page.max) == ("a", 1, 0)  # a has both labels: shown first
    label.value = 0
    assert page.max == 1
    page.value = 1
    patient.value = "b"
    assert page.max == 0 and page.value == 0  # b has no negatives
    label.value = 1
    assert page.max == 2
    bundle = viewer._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")


def test_static_patch_browser_shows_both_labels_of_a_mixed_patient(capsys: pytest.CaptureFixture) -> None:
    images, table = _table()
    assert widgets.patch_browser(images, table, interactive=False) is None
    assert capsys.readouterr().out.count("Figure") == 2


def test_select_predictions_filters_by_outcome_and_sorts_by_margin() -> None:
    test = pd.DataFrame({"label": [1, 0, 1, 0, 1, 0], "probability": [0.9, 0.6, 0.3, 0.1, 0.55, 0.95]})
    assert widgets.outcomes(test["label"], test["probability"], 0.5).tolist() == ["TP", "FP", "FN", "TN", "TP", "FP"]
    assert widgets.select_predictions(test, 0.5, "FP").tolist() == [5, 1]
    assert widgets.select_predictions(test, 0.5, "TP", "least confident first").tolist() == [4, 0]
    assert widgets.select_predictions(test, 0.5, "all", "test order").tolist() == list(range(6))
    with pytest.raises(ValueError, match="outcome"):
        widgets.select_predictions(test, 0.5, "XX")


def test_prediction_viewer_slider_follows_the_outcome() -> None:
    test = pd.DataFrame({"label": [1, 0, 1, 0, 1, 0], "probability": [0.9, 0.6, 0.3, 0.1, 0.55, 0.95]})
    kinds = widgets.outcomes(test["label"], test["probability"], 0.5)
    drawn = []

    def draw(k: int):
        drawn.append(k)
        return plt.subplots()[0]

    viewer = widgets._viewer_widget(test, 0.5, kinds, draw)
    (outcome, order), pick, _ = viewer.widget.children[0].children, *viewer.widget.children[1:]
    assert pick.max == 5 and drawn[-1] == 5  # the first frame: the most confident prediction
    outcome.value = "FN"
    assert pick.max == 0 and drawn[-1] == 2
    outcome.value = "FP"
    order.value = "least confident first"
    assert pick.max == 1 and drawn[-1] == 1


@pytest.mark.slow
def test_prediction_viewer_draws_grad_cam_for_each_outcome_present(capsys: pytest.CaptureFixture) -> None:
    from bc_helpers.models.builders import build_model

    model = build_model("cnn", image_size=16, filters=(4, 8), dense=8)
    images = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    test = pd.DataFrame({"label": [1, 0, 1, 0, 1, 0], "probability": [0.9, 0.6, 0.3, 0.1, 0.55, 0.95]})
    rows = np.arange(6)
    assert widgets.prediction_viewer(model, images, test, rows, 0.5, 0.1, interactive=False) is None
    assert capsys.readouterr().out.count("Figure") == 4  # one TP, FP, TN and FN each
    viewer = widgets.prediction_viewer(model, images, test, rows, 0.5, 0.1, interactive=True)
    outcome = viewer.widget.children[0].children[0]
    assert [label for label, _ in outcome.options] == ["all (6)", "TP (2)", "FP (2)", "TN (1)", "FN (1)"]
    assert base64.b64decode(viewer._repr_mimebundle_()["image/png"]).startswith(b"\x89PNG")


def _near_threshold() -> tuple[np.ndarray, np.ndarray]:
    """Positives between 0.82 and 0.825 count as caught at 0.82 and missed at 0.825: the two disagree."""
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    return y, np.array([0.95, 0.9, 0.823, 0.821, 0.5, 0.3, 0.2, 0.83])


def test_the_chosen_threshold_frame_shows_the_metrics_at_exactly_that_threshold() -> None:
    from bc_helpers.evaluation.metrics import binary_metrics

    y, p = _near_threshold()
    label = widgets.threshold_label(y, p, 0.825, 0.825)
    assert label.startswith("threshold 0.825 (the threshold validation chose)")
    assert f"sensitivity {binary_metrics(y, p, 0.825)['sensitivity']:.3f}" in label  # 0.500, not 1.000 at 0.82
    assert "sensitivity 0.500" in label
    assert "validation chose 0.825" in widgets.threshold_label(y, p, 0.2, 0.825)


def test_the_threshold_slider_offers_the_chosen_threshold_exactly() -> None:
    choices = widgets.threshold_choices(0.825)
    assert 0.825 in choices and 0.82 in choices and choices == sorted(choices) and len(choices) == 100
    y, p = _near_threshold()
    explorer = widgets.threshold_explorer(y, p, 0.825, interactive=True)
    slider = explorer.widget.children[0]
    assert slider.value == 0.825 and slider.label == "0.825"


def test_widget_bundle_is_the_same_on_ipywidgets_7_and_8(monkeypatch: pytest.MonkeyPatch) -> None:
    """Colab ships ipywidgets 7.7.1, whose widgets have no `_repr_mimebundle_`; Kaggle and `make setup` have 8.
    The fallback builds the bundle that 7 displays, which is also what 8 returns."""
    import ipywidgets as w

    box = w.VBox([w.Label("x")])
    bundle = widgets.widget_bundle(box)
    assert bundle[WIDGET_VIEW] == {"version_major": 2, "version_minor": 0, "model_id": box.model_id}
    if hasattr(w.Widget, "_repr_mimebundle_"):  # ipywidgets 8: take 7's path and compare
        monkeypatch.delattr(w.Widget, "_repr_mimebundle_")
        assert widgets.widget_bundle(box) == bundle
