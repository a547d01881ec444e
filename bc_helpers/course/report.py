"""The report of a workbook run: the comparison tables and figures, the parameters and versions used. Its HTML
is written through book.write_page, which refuses a page that would need the network."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from ..data.registry import is_synthetic
from ..evaluation import paper, reading, selection, tables
from ..files import write_text_atomic
from ..runs.folders import RunFolder
from . import plots
from .book import write_page


def dataset_figures(runs: pd.DataFrame, dataset: str) -> list[tuple[str, Figure]]:
    """For one dataset (patient split): metric bars with bootstrap intervals, ROC curves, confusion matrices,
    and the CNN-LSTM's training curves: the equivalents of the paper's Figs 3-10."""
    part = runs[(runs["dataset"] == dataset) & (runs["protocol"] == "patient")]
    if part.empty:
        return []
    out = [(f"{dataset}: test metrics by model", plots.metric_bars(
        part, ["accuracy", "balanced_accuracy", "roc_auc"], f"{dataset}: test metrics by model (patient split)",
        errors={"roc_auc": "roc_auc_ci", "balanced_accuracy": "balanced_accuracy_ci"}))]
    curves = {}
    for _, row in part.iterrows():
        test = RunFolder(row["run_dir"]).read_predictions("test")
        curves[row["model"]] = (test["label"].to_numpy(), test["probability"].to_numpy())
    out.append((f"{dataset}: ROC curves", plots.roc_curves(curves, f"{dataset}: ROC curves (test, patient split)")))
    fig = Figure(figsize=(2.6 * len(part), 2.6))
    axes = fig.subplots(1, len(part), squeeze=False)
    for ax, (_, row) in zip(axes[0], part.iterrows(), strict=True):
        plots.confusion(RunFolder(row["run_dir"]).read_metrics()["confusion"], row["model"], ax=ax)
    fig.tight_layout()
    out.append((f"{dataset}: actual vs predicted", fig))
    hybrid = part[part["model"] == "cnn_lstm"]
    if not hybrid.empty:
        history = RunFolder(str(hybrid["run_dir"].iat[0])).read_history()
        out.append((f"{dataset}: CNN-LSTM training curves", plots.training_curves(history, f"{dataset}: CNN-LSTM")))
    return out


def leakage_figure(runs: pd.DataFrame) -> list[tuple[str, Figure]]:
    """The leakage study's bars (image-level split beside patient split), if both were run; `runs` as
    selection.leakage_runs gives them."""
    leak = tables.leakage_table(runs)
    return [] if leak.empty else [("leakage study", plots.leakage_bars(leak))]


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """For reading: numbers to 3 decimals, intervals as [low, high], two-level headers as "ours: accuracy"."""
    if frame.empty:
        return frame
    out = frame.round(3)
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = [": ".join(str(part) for part in col) for col in out.columns]
    for col in out.columns:
        if out[col].map(lambda v: isinstance(v, tuple)).any():
            out[col] = out[col].map(lambda v: f"[{v[0]:+.3f}, {v[1]:+.3f}]" if isinstance(v, tuple) else v)
    return out


def sections(runs: pd.DataFrame, datasets: list[str], leak_runs: pd.DataFrame) -> list[tuple[str, pd.DataFrame | str]]:
    """The report's tables and notes, in order; `leak_runs`: the runs of the leakage study, every seed."""
    out: list[tuple[str, pd.DataFrame | str]] = []
    for dataset in datasets:
        table = tables.paper_table(runs, dataset) if not runs.empty else pd.DataFrame()
        out.append((f"{dataset}: the paper's table beside ours (test images, patient split)", readable(table)))
    collapsed = ([] if runs.empty or "reading" not in runs
                 else runs.loc[runs["reading"] == "collapsed", "model"].tolist())
    if len(collapsed):
        out.append(("Collapsed runs", f"Marked collapsed: {', '.join(sorted(set(collapsed)))}. "
                    + reading.COLLAPSED_NOTE))
    out.append(("Paper's note", paper.NOTE))
    leak = tables.leakage_table(leak_runs)
    out.append(("Leakage study: image-level split vs patient split, mean over seeds", readable(leak)))
    if not runs.empty:
        out.append(("Cost: measured on this machine beside the paper's claims", readable(tables.cost_table(runs))))
    out.append(("Published patient-level results on IDC", paper.PATIENT_LEVEL_BASELINES))
    missing = tables.missing_runs(runs, datasets, ["patient"])
    out.append(("Missing runs", "\n".join(missing) if missing else "none"))
    return out


def run_versions(runs: pd.DataFrame) -> dict[str, str]:
    """The versions the reported runs were made with (each run's config.json); differing values all listed."""
    seen: dict[str, list[str]] = {}
    for run_dir in runs.get("run_dir", []):
        for name, version in (RunFolder(run_dir).read_config() or {}).get("versions", {}).items():
            if version not in seen.setdefault(name, []):
                seen[name].append(version)
    return {name: " / ".join(values) for name, values in seen.items()}


def write_report(out: Path, datasets: list[str], params: dict, seconds: float) -> Path:
    """report.md and report.html under `out`; the HTML embeds its figures."""
    runs, leak_runs = tables.collect_runs(out), selection.leakage_runs(out)
    figs = []
    if not runs.empty:
        drawn = [f for d in datasets for f in dataset_figures(runs, d)] + leakage_figure(leak_runs)
        for i, (title, fig) in enumerate(drawn):
            figs.append((title, plots.save(fig, out / "figures" / f"{i:02d}.png")))
            plt.close(fig)  # only the report's own figures: a notebook's stay open
    synthetic = any(is_synthetic(d) for d in datasets)
    banner = ("SYNTHETIC data: the sample datasets are generated images; these results show the method, "
              "not medical findings." if synthetic else "")
    meta = pd.DataFrame({"value": {"datasets": ", ".join(datasets), **{k: str(v) for k, v in params.items()},
                                   "wall time (s)": f"{seconds:.0f}", **run_versions(runs)}})
    parts = sections(runs, datasets, leak_runs) + [("Parameters and versions", meta)]
    md = ["# Workbook report", "", f"**{banner}**" if banner else ""]
    body = ["<h1>Workbook report</h1>", f"<p class='banner'>{html.escape(banner)}</p>" if banner else ""]
    for title, content in parts:
        md += ["", f"## {title}", ""]
        body.append(f"<h2>{html.escape(title)}</h2>")
        if isinstance(content, pd.DataFrame):
            md.append(content.to_markdown() if not content.empty else "(no runs yet)")
            body.append(content.to_html(na_rep="") if not content.empty else "<p>(no runs yet)</p>")
        else:
            md.append(content)
            body.append(f"<pre>{html.escape(content)}</pre>")
    md += ["", "## Figures", ""]
    body.append("<h2>Figures</h2>")
    for title, path in figs:
        md.append(f"![{title}]({path.relative_to(out)})")
        data = base64.b64encode(path.read_bytes()).decode()
        body.append(f"<h3>{html.escape(title)}</h3><img src='data:image/png;base64,{data}'>")
    pages = sorted((out / "notebooks").glob("*.html"))  # the executed notebooks, rendered by the runner
    md += ["", "## Notebooks", ""] + [f"- [{p.stem}]({p.relative_to(out)})" for p in pages]
    links = "".join(f"<li><a href='{html.escape(str(p.relative_to(out)))}'>{html.escape(p.stem)}</a></li>"
                    for p in pages)
    body.append(f"<h2>Notebooks</h2><ul>{links}</ul>")
    style = ("<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse;"
             "font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px}.banner{background:#fde;padding:8px;"
             "font-weight:bold}img{max-width:100%}</style>")
    write_text_atomic(out / "report.md", "\n".join(md) + "\n")
    return write_page(out / "report.html", f"<html><head><meta charset='utf-8'>{style}</head><body>"
                                           + "\n".join(body) + "</body></html>\n")
