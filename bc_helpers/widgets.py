"""Interactive widgets for the lessons. Each returns its widget (the cell shows it), or draws static
figures instead and returns None when `interactive` is False (papermill, nbval, a viewer without widgets)."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import plots
from .decisions import review_flags
from .metrics import binary_metrics


def _show(draw: Callable[[], None]) -> None:
    draw()
    plt.show()


def patch_browser(images: np.ndarray, table: pd.DataFrame, interactive: bool = True, per_page: int = 16) -> object:
    """Browse images by patient, label and page."""
    patients = sorted(table["patient"].astype(str).unique())

    def draw(patient: str, label: int, page: int) -> None:
        rows = np.flatnonzero((table["patient"].astype(str) == patient).to_numpy() & (table["label"] == label))
        chosen = rows[page * per_page:(page + 1) * per_page]
        if len(chosen) == 0:
            print(f"patient {patient} has no images with label {label} on page {page}")
            return
        titles = [f"{table['width'].iat[i]}x{table['height'].iat[i]}" for i in chosen]
        plots.image_grid(np.asarray(images[chosen]), titles, cols=8,
                         suptitle=f"patient {patient}, label {label} ({len(rows)} images), page {page}")

    if not interactive:
        for label in (0, 1):
            _show(lambda label=label: draw(patients[0], label, 0))
        return None
    import ipywidgets as w

    patient = w.Dropdown(options=patients, description="patient")
    label = w.ToggleButtons(options=[("negative (0)", 0), ("positive (1)", 1)], description="label")
    page = w.IntSlider(min=0, max=20, description="page")
    out = w.interactive_output(lambda patient, label, page: _show(lambda: draw(patient, label, page)),
                               {"patient": patient, "label": label, "page": page})
    return w.VBox([w.HBox([patient, label, page]), out])


def threshold_explorer(y: np.ndarray, prob: np.ndarray, chosen: float, interactive: bool = True) -> object:
    """Move the threshold: sensitivity, specificity and the confusion matrix follow."""

    def draw(threshold: float) -> None:
        m = binary_metrics(y, prob, threshold)
        fig, ax = plt.subplots(figsize=(3.4, 2.9))
        plots.confusion(m["confusion"], f"threshold {threshold:.2f}", ax=ax)
        print(f"sensitivity {m['sensitivity']:.3f}   specificity {m['specificity']:.3f}   "
              f"balanced accuracy {m['balanced_accuracy']:.3f}   (threshold chosen on validation: {chosen:.2f})")

    if not interactive:
        for t in sorted({0.2, round(chosen, 2), 0.8}):
            _show(lambda t=t: draw(t))
        return None
    import ipywidgets as w

    slider = w.FloatSlider(value=round(chosen, 2), min=0.01, max=0.99, step=0.01, description="threshold",
                           continuous_update=False)
    out = w.interactive_output(lambda threshold: _show(lambda: draw(threshold)), {"threshold": slider})
    return w.VBox([slider, out])


def prediction_viewer(model: object, images: np.ndarray, test: pd.DataFrame, rows: np.ndarray, threshold: float,
                      review_width: float, interactive: bool = True) -> object:
    """Pick a test image: its probability, the decision, the review flag, and its Grad-CAM map."""
    from .gradcam import gradcam, overlay

    def draw(k: int) -> None:
        image = np.asarray(images[rows[k]])
        heat = gradcam(model, image[None])[0]
        p = float(test["probability"].iat[k])
        flag = " - refer for review" if review_flags(np.array([p]), threshold, review_width)[0] else ""
        fig, axes = plt.subplots(1, 2, figsize=(5, 2.6))
        axes[0].imshow(image)
        axes[1].imshow(overlay(image, heat))
        for ax in axes:
            ax.axis("off")
        fig.suptitle(f"label {test['label'].iat[k]}, P(positive) {p:.2f} -> {int(p >= threshold)}{flag}", fontsize=9)

    if not interactive:
        for k in range(min(2, len(rows))):
            _show(lambda k=k: draw(k))
        return None
    import ipywidgets as w

    pick = w.IntSlider(min=0, max=len(rows) - 1, description="test image", continuous_update=False)
    out = w.interactive_output(lambda k: _show(lambda: draw(k)), {"k": pick})
    return w.VBox([pick, out])
