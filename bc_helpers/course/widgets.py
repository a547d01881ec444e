"""Interactive widgets for the lessons.

Each widget function draws figures. In a live notebook (`interactive` True) it returns a `WithFirstFrame`:
the widget, shown together with a PNG of its first frame, so a front end that cannot render widgets (a
viewer, an export, a kernel without the widget extension) still shows the figure. Otherwise (papermill,
nbval, a plain Python process) it shows a few static frames and returns None. `interactive=None` infers
which case applies (`interactive_default`).
"""

from __future__ import annotations

import base64
import io
import sys
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from matplotlib.figure import Figure

from ..evaluation.decisions import review_flags
from ..evaluation.metrics import binary_metrics
from . import plots

if TYPE_CHECKING:  # ipywidgets loads only when a widget is shown
    from ipywidgets import Widget

OUTCOMES = ("TP", "FP", "TN", "FN")
ORDERS = ("most confident first", "least confident first", "test order")


def interactive_default() -> bool:
    """True in a live notebook front end, False in batch runs and outside Jupyter.

    A front end a person types into (JupyterLab, Notebook, VS Code) sends its cells with `allow_stdin` set,
    so that `input()` works; papermill and nbval send theirs through jupyter_client with stdin disabled
    (nbclient and nbval both set `allow_stdin=False`). Colab is recognised by its module.
    """
    if "google.colab" in sys.modules:
        return True
    from IPython import get_ipython

    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None:
        return False
    return bool(kernel.get_parent().get("content", {}).get("allow_stdin", False))


def resolve_interactive(interactive: bool | None) -> bool:
    """A notebook's INTERACTIVE parameter: None means infer it (`interactive_default`)."""
    return interactive_default() if interactive is None else bool(interactive)


class WithFirstFrame:
    """A widget displayed with a PNG of its first frame: front ends that render widgets show the widget,
    the others fall back to the picture."""

    def __init__(self, widget: Widget, first_frame: Figure | None) -> None:
        self.widget = widget
        self.png = _png(first_frame) if first_frame is not None else None

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        bundle = widget_bundle(self.widget, **kwargs)
        return bundle | {"image/png": self.png} if self.png else bundle


def widget_bundle(widget: Widget, **kwargs: object) -> dict:
    """The widget's display data. ipywidgets 8 returns it from `_repr_mimebundle_`; ipywidgets 7 (Colab ships
    7.7.1) has no such method and displays itself in `_ipython_display_`, which builds this same bundle."""
    if hasattr(widget, "_repr_mimebundle_"):
        return dict(widget._repr_mimebundle_(**kwargs))
    plaintext = repr(widget)
    bundle: dict[str, Any] = {"text/plain": plaintext if len(plaintext) <= 110 else plaintext[:110] + "…"}
    if widget._view_name is not None:
        bundle["application/vnd.jupyter.widget-view+json"] = {
            "version_major": 2, "version_minor": 0, "model_id": widget.model_id}
        handle_displayed = getattr(widget, "_handle_displayed", None)  # 7's on_displayed callbacks, run as 7 does
        if handle_displayed is not None:
            handle_displayed(**kwargs)
    return bundle


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _show(draw: Callable[[], Figure | None]) -> None:
    """Draw one frame and display it (in a widget's output area when called inside one)."""
    fig = draw()
    if fig is not None:
        display(fig)
        plt.close(fig)


def pages(table: pd.DataFrame, patient: str, label: int, per_page: int) -> int:
    """How many pages of `per_page` images the patient has with this label (at least 1)."""
    n = int(((table["patient"].astype(str) == patient) & (table["label"] == label)).sum())
    return max(1, -(-n // per_page))


def patch_browser(images: np.ndarray, table: pd.DataFrame, interactive: bool | None = None,
                  per_page: int = 16) -> WithFirstFrame | None:
    """Browse images by patient, label and page; the first frame shows a patient with both labels."""
    patients = sorted(table["patient"].astype(str).unique())
    mixed = table.groupby(table["patient"].astype(str))["label"].nunique()
    first = next((p for p in patients if mixed[p] == 2), patients[0])
    first_label = int(table.loc[table["patient"].astype(str) == first, "label"].max())

    def draw(patient: str, label: int, page: int) -> Figure | None:
        rows = np.flatnonzero((table["patient"].astype(str) == patient).to_numpy() & (table["label"] == label))
        chosen = rows[page * per_page:(page + 1) * per_page]
        if len(chosen) == 0:
            print(f"patient {patient} has no images with label {label}")
            return None
        titles = [f"{table['width'].iat[i]}x{table['height'].iat[i]}" for i in chosen]
        return plots.image_grid(np.asarray(images[chosen]), titles, cols=8, suptitle=f"patient {patient}, "
                                f"label {label} ({len(rows)} images), page {page + 1} of {-(-len(rows) // per_page)}")

    if not resolve_interactive(interactive):
        for label in (0, 1):
            _show(partial(draw, first, label, 0))
        return None
    import ipywidgets as w

    patient = w.Dropdown(options=patients, value=first, description="patient")
    label = w.ToggleButtons(options=[("negative (0)", 0), ("positive (1)", 1)], value=first_label,
                            description="label")
    page = w.IntSlider(min=0, max=pages(table, first, first_label, per_page) - 1, description="page",
                       continuous_update=False)

    def fit_pages(_: object = None) -> None:  # registered before the output, so it runs before a redraw
        page.max = pages(table, patient.value, label.value, per_page) - 1

    patient.observe(fit_pages, "value")
    label.observe(fit_pages, "value")
    out = w.interactive_output(lambda patient, label, page: _show(lambda: draw(patient, label, page)),
                               {"patient": patient, "label": label, "page": page})
    return WithFirstFrame(w.VBox([w.HBox([patient, label, page]), out]), draw(first, first_label, 0))


def threshold_label(y: np.ndarray, prob: np.ndarray, threshold: float, chosen: float) -> str:
    """A threshold frame's title: its metrics computed at exactly `threshold`, both thresholds to 3 decimals, so
    the frame at the chosen threshold shows the numbers of the metrics table (0.825 printed as "0.82" and
    computed at 0.82 once showed a sensitivity the table did not hold)."""
    m = binary_metrics(y, prob, threshold)
    which = "the threshold validation chose" if threshold == chosen else f"validation chose {chosen:.3f}"
    return (f"threshold {threshold:.3f} ({which})\nsensitivity {m['sensitivity']:.3f}, specificity "
            f"{m['specificity']:.3f}\nbalanced accuracy {m['balanced_accuracy']:.3f}")


def threshold_choices(chosen: float, step: float = 0.01) -> list[float]:
    """The thresholds a slider offers: a grid of `step` from 0.01 to 0.99, and the chosen one exactly."""
    grid = np.round(np.arange(step, 1.0 - step / 2, step), 6)
    return sorted({float(t) for t in grid} | {float(chosen)})


def threshold_explorer(y: np.ndarray, prob: np.ndarray, chosen: float,
                       interactive: bool | None = None) -> WithFirstFrame | None:
    """Move the threshold: sensitivity, specificity and the confusion matrix follow. The chosen threshold is
    drawn and offered exactly, never rounded to the slider's grid."""

    def draw(threshold: float) -> Figure:
        m = binary_metrics(y, prob, threshold)
        fig, ax = plt.subplots(figsize=(3.6, 3.1))
        plots.confusion(m["confusion"], threshold_label(y, prob, threshold, chosen), ax=ax)
        ax.title.set_fontsize(8)
        fig.tight_layout()
        return fig

    if not resolve_interactive(interactive):
        for t in sorted({0.2, float(chosen), 0.8}):
            _show(partial(draw, t))
        return None
    import ipywidgets as w

    slider = w.SelectionSlider(options=[(f"{t:.3f}", t) for t in threshold_choices(chosen)], value=float(chosen),
                               description="threshold", continuous_update=False)
    out = w.interactive_output(lambda threshold: _show(lambda: draw(threshold)), {"threshold": slider})
    return WithFirstFrame(w.VBox([slider, out]), draw(float(chosen)))


def outcomes(labels: np.ndarray, prob: np.ndarray, threshold: float) -> np.ndarray:
    """TP, FP, TN or FN for each prediction at `threshold` (positive = label 1)."""
    predicted, actual = np.asarray(prob) >= threshold, np.asarray(labels) == 1
    return np.where(predicted, np.where(actual, "TP", "FP"), np.where(actual, "FN", "TN"))


def select_predictions(test: pd.DataFrame, threshold: float, outcome: str = "all",
                       order: str = ORDERS[0]) -> np.ndarray:
    """Positions in `test` (label, probability) with this outcome ("all" or one of OUTCOMES), ordered by
    confidence: the distance of the probability from the threshold, the decision's margin."""
    if outcome != "all" and outcome not in OUTCOMES:
        raise ValueError(f"outcome {outcome!r}: choose 'all' or one of {', '.join(OUTCOMES)}")
    if order not in ORDERS:
        raise ValueError(f"order {order!r}: choose one of {', '.join(ORDERS)}")
    prob = test["probability"].to_numpy()
    kept = np.arange(len(test))
    if outcome != "all":
        kept = kept[outcomes(test["label"].to_numpy(), prob, threshold) == outcome]
    if order == "test order":
        return kept
    margin = np.abs(prob[kept] - threshold)
    return kept[np.argsort(-margin if order == ORDERS[0] else margin, kind="stable")]


def prediction_viewer(model: object, images: np.ndarray, test: pd.DataFrame, rows: np.ndarray, threshold: float,
                      review_width: float, interactive: bool | None = None) -> WithFirstFrame | None:
    """Test images by outcome (TP/FP/TN/FN) and confidence: the probability, the decision, the review flag
    and the Grad-CAM map. `rows[k]` is the image of `test`'s k-th row. `review_width` is the share of each side
    of the threshold referred (decisions.review_flags), ranked among all of `test`'s images."""
    from ..models.gradcam import gradcam, overlay

    kinds = outcomes(test["label"].to_numpy(), test["probability"].to_numpy(), threshold)
    referred = review_flags(test["probability"].to_numpy(), threshold, review_width)  # ranked among all of test

    def draw(k: int) -> Figure:
        image = np.asarray(images[rows[k]])
        heat = gradcam(model, image[None])[0]
        p = float(test["probability"].to_numpy(dtype=float)[k])
        flag = ", refer for review" if referred[k] else ""
        fig, axes = plt.subplots(1, 2, figsize=(5, 2.7))
        axes[0].imshow(image)
        axes[1].imshow(overlay(image, heat))
        for ax, name in zip(axes, ("image", "Grad-CAM"), strict=True):
            ax.set_title(name, fontsize=8)
            ax.axis("off")
        fig.suptitle(f"{kinds[k]}: label {test['label'].iat[k]}, P(positive) {p:.3f} -> {int(p >= threshold)}"
                     f"{flag}", fontsize=9)
        return fig

    if not resolve_interactive(interactive):
        for outcome in OUTCOMES:  # the most confident example of each outcome present
            chosen = select_predictions(test, threshold, outcome)
            if len(chosen):
                _show(partial(draw, chosen[0]))
        return None
    return _viewer_widget(test, threshold, kinds, draw)


def _viewer_widget(test: pd.DataFrame, threshold: float, kinds: np.ndarray,
                   draw: Callable[[int], Figure]) -> WithFirstFrame:
    import ipywidgets as w

    counts = {o: int((kinds == o).sum()) for o in OUTCOMES}
    outcome = w.ToggleButtons(options=[(f"all ({len(test)})", "all")] + [(f"{o} ({n})", o) for o, n in counts.items()],
                              description="outcome")
    order = w.Dropdown(options=ORDERS, description="order")
    pick = w.IntSlider(min=0, max=max(len(test) - 1, 0), description="image", continuous_update=False)

    def fit(_: object = None) -> None:  # registered before the output, so it runs before a redraw
        pick.max = max(len(select_predictions(test, threshold, outcome.value, order.value)) - 1, 0)

    outcome.observe(fit, "value")

    def render(outcome: str, order: str, k: int) -> None:
        chosen = select_predictions(test, threshold, outcome, order)
        if len(chosen) == 0:
            print(f"no {outcome} predictions in this test part")
            return
        _show(lambda: draw(int(chosen[min(k, len(chosen) - 1)])))

    out = w.interactive_output(render, {"outcome": outcome, "order": order, "k": pick})
    return WithFirstFrame(w.VBox([w.HBox([outcome, order]), pick, out]),
                          draw(int(select_predictions(test, threshold)[0])) if len(test) else None)
