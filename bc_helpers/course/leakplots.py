"""The leak's figures: the same models under an image split and a patient split (the leakage study), and the leak
against the number of patches per patient (docs/measurements/leak-density.json)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def _name(metric: str) -> str:
    """A metric's name as an axis shows it."""
    return {"roc_auc": "ROC-AUC", "balanced_accuracy": "balanced accuracy"}.get(metric, metric.replace("_", " "))


def leakage_bars(leak: pd.DataFrame, metric: str = "roc_auc") -> Figure:
    """The same models scored on an image-level split and on a patient split (one bar pair per dataset, model
    and image-level protocol), and beside them each inflation (image split - patient split) with its 95%
    interval, where the table gives one (`{metric} inflation ci`). Legends sit outside the bars."""
    labels = leak["dataset"] + " / " + leak["model"].astype(str)
    if "labels" in leak:
        labels = labels + leak["labels"].map(lambda v: " (random labels)" if v == "random" else "")
    if "image_protocol" in leak:
        labels = labels + " (" + leak["image_protocol"] + ")"
    x = np.arange(len(leak))
    name = _name(metric)
    fig, (ax, right) = plt.subplots(1, 2, figsize=(max(9.0, 1.9 * len(leak) + 4), 4.2),
                                    gridspec_kw={"width_ratios": [max(len(leak), 2), max(len(leak), 2) * 0.7]})
    ax.bar(x - 0.2, leak[f"{metric} (image split)"], 0.4, label="image-level split", color="#c0504d")
    ax.bar(x + 0.2, leak[f"{metric} (patient split)"], 0.4, label="patient split (honest)", color="#5b2a86")
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set_xticks(x, labels, fontsize=8, rotation=20, ha="right")
    ax.set(ylim=(0, 1.05), ylabel=name, title=f"{name} under each split")
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=2, frameon=False)
    inflation = leak[f"{metric} inflation"].to_numpy(dtype=float)
    ci = leak.get(f"{metric} inflation ci")
    bounds = np.array([tuple(v) if isinstance(v, tuple | list) and len(v) == 2 else (np.nan, np.nan)
                       for v in (ci if ci is not None else [None] * len(leak))], dtype=float)
    known = ~np.isnan(bounds).any(axis=1)
    right.axhline(0, color="grey", lw=1)
    right.bar(x, inflation, 0.5, color="#c0504d", alpha=0.35)
    if known.any():
        err = np.abs(bounds[known].T - inflation[known])
        right.errorbar(x[known], inflation[known], yerr=err, fmt="o", color="black", capsize=4,
                       label="95% interval (bootstrap by patient)")
        right.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.08), frameon=False)
    right.set_xticks(x, labels, fontsize=8, rotation=20, ha="right")
    right.set(ylabel=f"{name}: image split - patient split", title="inflation")
    fig.suptitle("how much an image-level split inflates scores", y=1.0)
    fig.tight_layout()
    return fig


def leak_density(by_density: Mapping[str, dict], metric: str = "roc_auc") -> Figure:
    """The leak against the number of patches per patient (docs/measurements/leak-density.json's `by_density`):
    left, the random-label control's score under each split (above 0.5 under the image split: patient
    recognition); right, the true-label inflation (image split - patient split); each with its 95% interval by
    patient. Densities whose measurement did not run are absent from the mapping and from the figure."""
    name = _name(metric)
    rows = sorted(by_density.values(), key=lambda r: r["patches_per_patient"])
    x = np.array([r["patches_per_patient"] for r in rows], dtype=float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))

    def draw(ax: plt.Axes, values: list[dict], label: str, colour: str) -> None:
        y = np.array([v["estimate"] for v in values], dtype=float)
        ci = np.array([v["ci"] for v in values], dtype=float)
        ax.errorbar(x, y, yerr=np.abs(ci.T - y), fmt="o-", color=colour, capsize=4, label=label)

    for arm, label, colour in (("cnn_random_image", "image split", "#c0504d"),
                               ("cnn_random_patient", "patient split", "#5b2a86")):
        draw(left, [r["arms"][arm][metric] for r in rows], label, colour)
    left.axhline(0.5, color="grey", ls=":", lw=1)
    left.set(xscale="log", xlabel="patches per patient", ylabel=name, ylim=(0, 1.02),
             title="random labels: what the split offers")
    left.legend(fontsize=8, frameon=False)
    draw(right, [r["differences"]["cnn_image - cnn_patient"][metric] for r in rows], "CNN, true labels", "black")
    right.axhline(0, color="grey", lw=1)
    right.set(xscale="log", xlabel="patches per patient", ylabel=f"{name}: image split - patient split",
              title="true labels: the inflation")
    fig.suptitle("the leak of an image split against the density of patches (95% intervals by patient)", y=1.0)
    fig.tight_layout()
    return fig
