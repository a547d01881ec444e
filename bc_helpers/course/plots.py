"""The workbook's figures. Each function draws one figure and returns it; `save` writes it beside a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_curve

from ..evaluation.metrics import reliability_table

LABEL_NAMES = {0: "negative", 1: "positive"}
CLASS_COLOURS = {0: "#d8a3c8", 1: "#5b2a86"}


def save(fig: Figure, path: str | Path) -> Path:
    """Write `fig` as an image at `path` (folders made as needed); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def image_grid(images: Sequence[np.ndarray] | np.ndarray, titles: list[str] | None = None, cols: int = 8,
               size: float = 1.3, suptitle: str | None = None) -> Figure:
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
    return fig or _figure(ax)


def roc_curves(curves: Mapping[str, tuple[ArrayLike, ArrayLike]], title: str = "ROC curves",
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
    _figure(ax).tight_layout()
    return _figure(ax)


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
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)  # beside the bars
    fig.tight_layout()
    return fig


def coverage_curve(coverage: pd.DataFrame, title: str = "refer-for-review band") -> Figure:
    """Accuracy on the images decided automatically against the share decided, as more are referred
    (`coverage` as decisions.coverage_table gives it); the title names the exact threshold it was computed at."""
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.plot(coverage["coverage"], coverage["accuracy_on_decided"], "o-")
    for _, row in coverage.iterrows():
        ax.annotate(f"refer {row['share']:.0%}", (row["coverage"], row["accuracy_on_decided"]), fontsize=7)
    ax.set(xlabel="coverage (share decided without review)", ylabel="accuracy on decided",
           title=f"{title}, threshold {coverage['threshold'].iat[0]:.3f}" if len(coverage) else title)
    fig.tight_layout()
    return fig


def _figure(ax: plt.Axes) -> Figure:
    """The figure `ax` is drawn on (the whole figure, when `ax` is in a subfigure)."""
    fig = ax.get_figure(root=True)
    if fig is None:
        raise ValueError("these axes belong to no figure")
    return fig


def _axes(ax: plt.Axes | None, figsize: tuple[float, float]) -> plt.Axes:
    """The given Axes, or the Axes of a new figure of `figsize`."""
    return ax if ax is not None else plt.subplots(figsize=figsize)[1]


def precision_recall(curves: Mapping[str, tuple[ArrayLike, ArrayLike]], title: str = "precision-recall",
                     ax: plt.Axes | None = None) -> Figure:
    """One precision-recall curve per name: {name: (labels, probabilities)}, with its average precision and
    the line a classifier without skill draws (precision = the share of positives)."""
    ax = _axes(ax, (4.5, 4))
    for name, (y, p) in curves.items():
        y = np.asarray(y)
        if len(np.unique(y)) < 2:
            continue
        precision, recall, _ = precision_recall_curve(y, p)
        ax.plot(recall, precision, label=f"{name} (AP {average_precision_score(y, p):.3f})")
        ax.axhline(y.mean(), ls=":", color="grey")
    ax.set(xlabel="recall (sensitivity)", ylabel="precision", title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(fontsize=7)
    return _figure(ax)


def reliability_diagram(y: ArrayLike, prob: ArrayLike, bins: int = 10, title: str = "reliability",
                        ax: plt.Axes | None = None) -> Figure:
    """Observed share of positives against mean predicted probability per bin, each point labelled with its
    number of images; a calibrated model lies on the diagonal."""
    ax = _axes(ax, (4.5, 4))
    table = reliability_table(np.asarray(y), np.asarray(prob), bins).query("count > 0")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="calibrated")
    ax.plot(table["mean_predicted"], table["observed_frequency"], "o-", label="model")
    for _, row in table.iterrows():
        ax.annotate(f"{int(row['count'])}", (row["mean_predicted"], row["observed_frequency"]), fontsize=7,
                    textcoords="offset points", xytext=(3, -9))
    ax.set(xlabel="mean predicted probability", ylabel="observed share of positives", title=title,
           xlim=(0, 1), ylim=(-0.02, 1.02))
    ax.legend(fontsize=7, loc="upper left")
    return _figure(ax)


def probability_histograms(y: ArrayLike, prob: ArrayLike, threshold: float | None = None,
                           title: str = "predicted probability by class", ax: plt.Axes | None = None) -> Figure:
    """Histograms of the predicted probability, one per true class; the threshold as a vertical line."""
    ax = _axes(ax, (4.5, 3.2))
    y, prob = np.asarray(y), np.asarray(prob)
    edges = np.linspace(0, 1, 21)
    for label, name in LABEL_NAMES.items():
        ax.hist(prob[y == label], bins=edges.tolist(), alpha=0.6, color=CLASS_COLOURS[label],
                label=f"{name} ({int((y == label).sum())})")
    if threshold is not None:
        ax.axvline(threshold, color="black", ls="--", label=f"threshold {threshold:.2f}")
    ax.set(xlabel="predicted probability of positive", ylabel="images", title=title)
    ax.legend(fontsize=7)
    return _figure(ax)


def patient_summary(predictions: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """One row per patient from a table with patient, label and probability columns: images, the true and
    the mean predicted share of positives, and the accuracy at `threshold`."""
    frame = predictions.assign(correct=(predictions["probability"] >= threshold) == (predictions["label"] == 1))
    return frame.groupby("patient").agg(images=("label", "size"), positive_share=("label", "mean"),
                                        mean_probability=("probability", "mean"), accuracy=("correct", "mean"))


def per_patient(predictions: pd.DataFrame, threshold: float, title: str = "per patient",
                ax: plt.Axes | None = None) -> Figure:
    """One point per patient: true share of positive images against mean predicted probability (size: the
    patient's images, colour: accuracy at the threshold). On the diagonal, the model gets each patient's mix."""
    ax = _axes(ax, (4.8, 4))
    summary = patient_summary(predictions, threshold)
    points = ax.scatter(summary["positive_share"], summary["mean_probability"], s=20 + 200 * summary["images"]
                        / summary["images"].max(), c=summary["accuracy"], cmap="viridis", vmin=0, vmax=1,
                        edgecolor="black", linewidth=0.4)
    ax.figure.colorbar(points, ax=ax, label="accuracy")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="true share of positive images", ylabel="mean predicted probability",
           title=f"{title} ({len(summary)} patients)", xlim=(-0.03, 1.03), ylim=(-0.03, 1.03))
    return _figure(ax)


def slide_cells(table: pd.DataFrame, patch: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Grid row and column of each patch from its slide position (x, y: the patch's top-left corner in
    pixels, as IDC file names give it), counted from the patient's top-left patch."""
    x, y = table["x"].to_numpy(dtype=int), table["y"].to_numpy(dtype=int)
    return (y - y.min()) // patch, (x - x.min()) // patch


def slide_grid(table: pd.DataFrame, values: ArrayLike, patch: int = 50) -> np.ndarray:
    """One patient's slide as a grid, a cell per patch position, holding `values` (NaN where no patch)."""
    rows, cols = slide_cells(table, patch)
    grid = np.full((rows.max() + 1, cols.max() + 1), np.nan)
    grid[rows, cols] = np.asarray(values, dtype=float)
    return grid


def slide_mosaic(images: np.ndarray, table: pd.DataFrame, patch: int = 50) -> np.ndarray:
    """One patient's patches laid out at their slide positions on white, as a uint8 image (each patch at
    its stored size)."""
    rows, cols = slide_cells(table, patch)
    h, w = images.shape[1:3]
    mosaic = np.full(((rows.max() + 1) * h, (cols.max() + 1) * w, 3), 255, dtype=np.uint8)
    for image, r, c in zip(np.asarray(images), rows, cols, strict=True):
        mosaic[r * h:(r + 1) * h, c * w:(c + 1) * w] = image
    return mosaic


def slide_map(table: pd.DataFrame, images: np.ndarray | None = None, probability: np.ndarray | None = None,
              patch: int = 50, title: str = "") -> Figure:
    """The classic IDC figure: one patient's slide rebuilt from the patches' (x, y), side by side: the tissue
    (if `images`), the true label of each patch, and the predicted probability (if `probability`)."""
    if table["patient"].nunique() != 1:
        raise ValueError("slide_map draws one patient: select that patient's rows first")
    panels = [p for p in ("tissue", "label", "probability") if p == "label"
              or (p == "tissue" and images is not None) or (p == "probability" and probability is not None)]
    rows, cols = slide_cells(table, patch)
    x0, y0 = int(table["x"].min()), int(table["y"].min())
    extent = (x0, x0 + (cols.max() + 1) * patch, y0 + (rows.max() + 1) * patch, y0)
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "tissue" and images is not None:
            mosaic = slide_mosaic(images, table, patch)
            step = max(1, max(mosaic.shape[:2]) // 800)  # drawing a large mosaic at full size is slow
            ax.imshow(mosaic[::step, ::step], extent=extent)
        elif panel == "label":
            colours = matplotlib.colors.ListedColormap([CLASS_COLOURS[0], CLASS_COLOURS[1]])
            ax.imshow(slide_grid(table, table["label"], patch), cmap=colours, vmin=0, vmax=1, extent=extent)
        elif probability is not None:
            shown = ax.imshow(slide_grid(table, probability, patch), cmap="magma", vmin=0, vmax=1, extent=extent)
            fig.colorbar(shown, ax=ax, fraction=0.046, label="P(positive)")
        ax.set(title={"tissue": "tissue", "label": "true label (dark: IDC)",
                      "probability": "predicted probability"}[panel], xlabel="x (px)", ylabel="y (px)")
    fig.suptitle(title or f"patient {table['patient'].iat[0]}: {len(table)} patches at their (x, y)")
    fig.tight_layout()
    return fig


def training_curves_compared(histories: dict[str, pd.DataFrame],
                             metrics: tuple[str, ...] = ("val_loss", "val_accuracy"), title: str = "",
                             log_loss: bool = True) -> Figure:
    """Several models' training histories overlaid, one panel per metric (validation by default). Losses are
    drawn on a log scale (`log_loss`), so one model whose loss explodes (ResNet-50's validation loss at 54) does
    not flatten every other curve; a legend sits beside the panels, covering no line."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics) + 1.5, 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for name, history in histories.items():
            if metric in history:
                ax.plot(np.arange(1, len(history) + 1), history[metric], "o-", ms=3, label=name)
        label = metric.replace("val_", "validation ").replace("_", " ")
        if log_loss and metric.endswith("loss"):
            ax.set_yscale("log")
            low, high = ax.get_ylim()
            plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.2g}")  # 0.5, not 5 x 10^-1
            ax.yaxis.set_major_formatter(plain)  # between decades, label the minor ticks too (if only they fit)
            ax.yaxis.set_minor_formatter(plain if high / low < 10 else matplotlib.ticker.NullFormatter())
            label += " (log scale)"
        ax.set(xlabel="epoch", ylabel=label, title=f"{title}: {label}" if title else label)
        ax.xaxis.get_major_locator().set_params(integer=True)
    handles, names = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def fold_spread(folds: pd.DataFrame, metric: str = "roc_auc", ax: plt.Axes | None = None) -> Figure:
    """The score of each grid setting on every cross-validation fold (columns setting, fold, `metric`, and
    optionally the hyperparameters, which label the settings): a box per setting, a dot per fold."""
    ax = _axes(ax, (max(4.0, 1.2 * folds["setting"].nunique()), 3.4))
    scores = {"fold", "roc_auc", "balanced_accuracy", "seconds", "setting"}
    names = [c for c in folds.columns if c not in scores]
    frame = folds.assign(label=folds["setting"].astype(str) if not names else
                         folds[names].astype(str).apply(lambda r: "\n".join(f"{k}={v}" for k, v in r.items()),
                                                        axis=1))
    order = frame.groupby("label")[metric].mean().sort_values(ascending=False).index
    sns.boxplot(frame, x="label", y=metric, order=order, color="#e8e0f0", ax=ax, showfliers=False)
    sns.stripplot(frame, x="label", y=metric, order=order, color="#5b2a86", size=5, ax=ax)
    ax.set(xlabel="setting (best mean first)", ylabel=metric.replace("_", " "),
           title=f"{metric.replace('_', ' ')} on each of {frame['fold'].nunique()} grouped folds")
    ax.tick_params(axis="x", labelsize=7)
    return _figure(ax)
