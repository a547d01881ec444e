"""The workbook's figures. Each function draws one figure and returns it; `save` writes it beside a run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

LABEL_NAMES = {0: "negative", 1: "positive"}


def save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def image_grid(images: Sequence[np.ndarray], titles: list[str] | None = None, cols: int = 8, size: float = 1.3,
               suptitle: str | None = None) -> Figure:
    """A grid of images (uint8, or floats in [0, 1]; sizes may differ) with optional titles."""
    rows = max(1, int(np.ceil(len(images) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 1.1), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i])
            if titles:
                ax.set_title(titles[i], fontsize=7)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def class_balance(table: pd.DataFrame, title: str) -> Figure:
    """Images per patient, stacked by label: the imbalance and the per-patient class mix in one view."""
    counts = table.groupby(["patient", "label"]).size().unstack(fill_value=0).rename(columns=LABEL_NAMES)
    counts = counts.loc[counts.sum(axis=1).sort_values(ascending=False).index]
    fig, ax = plt.subplots(figsize=(10, 3.2))
    counts.plot.bar(stacked=True, ax=ax, color=["#d8a3c8", "#5b2a86"], width=0.85)
    ax.set(xlabel="patient", ylabel="images", title=title)
    ax.tick_params(axis="x", labelsize=6)
    fig.tight_layout()
    return fig


def stain_by_patient(images: np.ndarray, table: pd.DataFrame) -> Figure:
    """Mean colour of each patient's images: stain varies between patients, which a model can learn."""
    means = pd.DataFrame(np.asarray(images).reshape(len(images), -1, 3).mean(axis=1), columns=["R", "G", "B"])
    means["patient"] = table["patient"].to_numpy()
    per = means.groupby("patient")[["R", "G", "B"]].mean()
    fig, ax = plt.subplots(figsize=(10, 1.6))
    ax.imshow(per.to_numpy()[None, :, :] / 255, aspect="auto")
    ax.set_yticks([])
    ax.set_xticks(range(len(per)), per.index, rotation=90, fontsize=6)
    ax.set_title("mean colour per patient")
    return fig


def training_curves(history: pd.DataFrame, title: str = "") -> Figure:
    """Loss and accuracy on training and validation data per epoch (the paper's Figs 5-6)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    epochs = np.arange(1, len(history) + 1)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        ax.plot(epochs, history[metric], "o-", label="training")
        ax.plot(epochs, history[f"val_{metric}"], "s--", label="validation")
        ax.set(xlabel="epoch", ylabel=metric)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion(confusion_counts: dict, title: str = "", ax: plt.Axes | None = None) -> Figure:
    """Actual against predicted labels (the paper's Figs 7-8)."""
    c = confusion_counts
    matrix = np.array([[c["tn"], c["fp"]], [c["fn"], c["tp"]]])
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.2, 2.8))
    sns.heatmap(matrix, annot=True, fmt="d", cmap="Purples", cbar=False, ax=ax,
                xticklabels=["negative", "positive"], yticklabels=["negative", "positive"])
    ax.set(xlabel="predicted", ylabel="actual", title=title)
    return fig or ax.figure


def roc_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str = "ROC curves",
               ax: plt.Axes | None = None) -> Figure:
    """One ROC curve per name: {name: (labels, probabilities)} (the paper's Figs 9-10)."""
    from sklearn.metrics import roc_auc_score

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    for name, (y, p) in curves.items():
        if len(np.unique(y)) < 2:
            continue
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title=title)
    ax.legend(fontsize=7)
    ax.figure.tight_layout()
    return ax.figure


def metric_bars(table: pd.DataFrame, metrics: list[str], title: str, errors: dict[str, str] | None = None) -> Figure:
    """Grouped bars per model (the paper's Figs 3-4), with bootstrap intervals where given."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    width = 0.8 / len(metrics)
    x = np.arange(len(table))
    for i, metric in enumerate(metrics):
        values = table[metric].to_numpy()
        yerr = None
        if errors and metric in errors:
            ci = np.array(table[errors[metric]].tolist())
            yerr = np.abs(ci.T - values)
        ax.bar(x + i * width, values, width, label=metric.replace("_", " "), yerr=yerr, capsize=2)
    ax.set_xticks(x + width * (len(metrics) - 1) / 2, table["model"])
    ax.set(ylim=(0, 1.05), title=title)
    ax.legend(fontsize=7, ncol=len(metrics))
    fig.tight_layout()
    return fig


def coverage_curve(coverage: pd.DataFrame, title: str = "refer-for-review band") -> Figure:
    """Accuracy on the images decided automatically against the share decided, as the band widens."""
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.plot(coverage["coverage"], coverage["accuracy_on_decided"], "o-")
    for _, row in coverage.iterrows():
        ax.annotate(f"±{row['width']:.2f}", (row["coverage"], row["accuracy_on_decided"]), fontsize=7)
    ax.set(xlabel="coverage (share decided without review)", ylabel="accuracy on decided", title=title)
    fig.tight_layout()
    return fig


def grid_heatmap(table: pd.DataFrame, rows: str, cols: str, value: str = "mean_roc_auc") -> Figure:
    """Cross-validated score of each grid setting."""
    fig, ax = plt.subplots(figsize=(4.5, 3))
    pivot = table.pivot_table(index=rows, columns=cols, values=value)
    sns.heatmap(pivot, annot=True, fmt=".3f", cmap="viridis", ax=ax)
    ax.set_title(f"{value.replace('_', ' ')} over grouped folds")
    fig.tight_layout()
    return fig


def leakage_bars(leak: pd.DataFrame, metric: str = "roc_auc") -> Figure:
    """The same models scored on an image-level split and on a patient split."""
    labels = leak["dataset"] + " / " + leak["model"]
    x = np.arange(len(leak))
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.bar(x - 0.2, leak[f"{metric} (image split)"], 0.4, label="image-level split (paper)")
    ax.bar(x + 0.2, leak[f"{metric} (patient split)"], 0.4, label="patient split (honest)")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set(ylim=(0, 1.05), ylabel=metric.replace("_", " "), title="how much the paper's split inflates scores")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
