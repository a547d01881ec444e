"""The report of a workbook run: one page that concludes. It opens with what holds up of the paper's claims and
what does not, and why (the ablation's verdict, the leak beside its control, the paper's table beside ours), then
gives the tables and figures, the notebooks with a line on each, and the parameters and versions used.

Every sentence is computed from the run's files (ablation.json, leakage.json, the run folders); every table is
for people (`readable`: no index column, readable headers, 3 decimals, "–" where there is no value). The HTML is
written through book.write_page, which refuses a page that would need the network; report.md says the same."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from .. import paths
from ..data.registry import is_synthetic
from ..evaluation import paper, reading, selection, tables
from ..evaluation.claims import CONTROL_READING, LEAKAGE_FILE, findings, is_control, read_leakage
from ..files import write_text_atomic
from ..runs.folders import RunFolder
from . import leakplots, plots
from .book import write_page

MISSING = "–"
# Headers a person reads: the package's snake_case names, spelled out.
WORDS = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "f1": "F1", "balanced_accuracy": "balanced accuracy",
         "n_seeds": "seeds", "n_patients": "test patients", "n_images": "test images", "image_protocol": "image split",
         "cnn_lstm": "CNN-LSTM", "cnn": "CNN", "ci": "95% interval", "idc": "IDC"}
NOTEBOOK_DIR = "notebooks"


# --- tables for people ------------------------------------------------------------------------------------------

def header(name: object) -> str:
    """A column name as a person reads it: "balanced_accuracy inflation ci" -> "balanced accuracy inflation 95%
    interval", "roc_auc (patient split)" -> "ROC-AUC (patient split)"."""
    text = str(name)
    for key in sorted(WORDS, key=len, reverse=True):
        text = re.sub(rf"(?<![A-Za-z]){re.escape(key)}(?![A-Za-z])", WORDS[key], text)
    return text.replace("_", " ")


def cell(value: object) -> object:
    """A value as a table shows it: numbers to 3 decimals, intervals as [low, high], "–" for no value, paths
    relative to the repository."""
    if isinstance(value, tuple | list) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        return MISSING if any(_missing(v) for v in value) else f"[{value[0]:+.3f}, {value[1]:+.3f}]"
    if _missing(value):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) >= 10 else f"{value:.3f}"
    if hasattr(value, "item"):  # a numpy scalar
        return cell(value.item())
    if isinstance(value, str):  # a path inside the repository, as the reader knows it: relative to its root
        return value.replace(f"{paths.repo_root()}/", "")
    return value


def _missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str | bytes | tuple | list | dict | set) or hasattr(value, "__len__"):
        return False
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """For reading: a named index becomes a column, two-level headers read "ours: accuracy", snake_case headers
    are spelled out, numbers have 3 decimals, intervals read [low, high], and no value shows as "–". Show it
    without its row numbers (`table_view`, or `to_html(index=False)`)."""
    if frame is None or frame.empty:
        return pd.DataFrame() if frame is None else frame
    out = frame.copy()
    if any(name is not None for name in out.index.names):
        out = out.reset_index()
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = [": ".join(str(part) for part in col if str(part)) for col in out.columns]
    out = out.astype(object).map(cell)
    out.columns = [header(c) for c in out.columns]
    return out.reset_index(drop=True)


def table_view(frame: pd.DataFrame) -> object:
    """`readable(frame)` as a notebook shows it: without the row numbers."""
    shown = readable(frame)
    return shown if shown.empty else shown.style.hide(axis="index")


# --- the report's parts ------------------------------------------------------------------------------------------

def dataset_figures(runs: pd.DataFrame, dataset: str) -> list[tuple[str, Figure]]:
    """For one dataset (patient split): metric bars with bootstrap intervals, ROC curves, confusion matrices,
    and the CNN-LSTM's training curves: the equivalents of the paper's Figs 3-10. A collapsed run is labelled
    so in every figure."""
    part = runs[(runs["dataset"] == dataset) & (runs["protocol"] == "patient")]
    if part.empty:
        return []
    hybrid = part[part["model"] == "cnn_lstm"]
    if "reading" in part:
        part = part.assign(model=[f"{m} (collapsed)" if r == "collapsed" else m
                                  for m, r in zip(part["model"], part["reading"], strict=True)])
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
    if not hybrid.empty:
        history = RunFolder(str(hybrid["run_dir"].iat[0])).read_history()
        out.append((f"{dataset}: CNN-LSTM training curves", plots.training_curves(history, f"{dataset}: CNN-LSTM")))
    return out


def leakage_figure(runs: pd.DataFrame, leak: pd.DataFrame | None = None) -> list[tuple[str, Figure]]:
    """The leakage study's bars (image-level split beside patient split) and each inflation with its interval,
    if both splits were run; `runs` as selection.leakage_runs gives them, or `leak` already tabled."""
    leak = tables.leakage_table(runs) if leak is None else leak
    return [] if leak.empty else [("leakage study", leakplots.leakage_bars(leak))]


def leakage_rows(out: Path, leak_runs: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The leakage study: leakage.json's rows when the run holds it, else the table of the runs; and its source."""
    measured = read_leakage(out)
    if not measured.empty:
        return measured, f"`{LEAKAGE_FILE}`"
    return tables.leakage_table(leak_runs), "the run folders, mean over seeds"


def ablation_rows(out: Path) -> pd.DataFrame:
    """The ablation table with its verdicts, ROC-AUC and balanced accuracy (selection.ablation_table)."""
    return selection.ablation_table(out)


def sections(runs: pd.DataFrame, datasets: list[str], leak_runs: pd.DataFrame,
             leak: pd.DataFrame | None = None, ablations: pd.DataFrame | None = None,
             ) -> list[tuple[str, pd.DataFrame | str]]:
    """The report's tables and notes after its conclusions, in order; `leak_runs`: the runs of the leakage
    study, every seed; `leak`: its table when already read (leakage.json)."""
    out: list[tuple[str, pd.DataFrame | str]] = []
    for dataset in datasets:
        table = tables.paper_table(runs, dataset) if not runs.empty else pd.DataFrame()
        out.append((f"{dataset}: the paper's table beside ours (test images, patient split)",
                    readable(table) if not table.empty else "No run on the patient split yet."))
    collapsed = ([] if runs.empty or "reading" not in runs
                 else runs.loc[runs["reading"] == "collapsed", "model"].tolist())
    if len(collapsed):
        out.append(("Collapsed runs", f"Marked collapsed: {', '.join(sorted(set(collapsed)))}. "
                    + reading.COLLAPSED_NOTE))
    out.append(("Paper's note", paper.NOTE))
    if ablations is not None and not ablations.empty:
        out.append(("The ablation: CNN-LSTM against the same CNN without its LSTM", readable(ablations)))
    leak = tables.leakage_table(leak_runs) if leak is None else leak
    out.append(("Leakage study: image-level split vs patient split, mean over seeds", readable(leak) if not leak.empty
                else "No image-split run yet: notebook 08 with `PROTOCOL='paper'` makes one (`make run` does)."))
    if not leak.empty and leak.apply(is_control, axis=1).any():
        out.append(("Reading the leakage study", CONTROL_READING))
    if not runs.empty:
        out.append(("Cost: measured on this machine beside the paper's claims", readable(tables.cost_table(runs))))
    out.append(("Published results on held-out IDC patients (patch-level metrics)",
                readable(paper.PATIENT_LEVEL_BASELINES)))
    missing = tables.missing_runs(runs, datasets, ["patient"])
    out.append(("Missing runs", "\n".join(f"- {m}" for m in missing) if missing else "none"))
    return out


def run_versions(runs: pd.DataFrame) -> dict[str, str]:
    """The versions the reported runs were made with (each run's config.json); differing values all listed."""
    seen: dict[str, list[str]] = {}
    for run_dir in runs.get("run_dir", []):
        for name, version in (RunFolder(run_dir).read_config() or {}).get("versions", {}).items():
            if version not in seen.setdefault(name, []):
                seen[name].append(version)
    return {name: " / ".join(values) for name, values in seen.items()}


def notebook_line(page: Path) -> tuple[str, str]:
    """An executed notebook's title and its one line (the paragraph under its title and badges), read from the
    .ipynb beside its page; the split it ran under is added to the title when it ran more than once."""
    source = page.with_suffix(".ipynb")
    title, line = page.stem, ""
    if source.is_file():
        nb = json.loads(source.read_text(encoding="utf-8"))
        first = next((c for c in nb.get("cells", []) if c.get("cell_type") == "markdown"), None)
        text = "".join(first["source"]) if first else ""
        heads = [ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")]
        title = heads[0] if heads else title
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
        prose = [p for p in paragraphs if not p.startswith("#") and not p.startswith("[![")]
        line = " ".join(prose[-1].split()) if prose else ""
        line = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line)  # a link's text only: the report is not its page
        line = " ".join(re.sub(r"\$\$.*?\$\$|\$[^$]*\$", "", line).split())  # no raw LaTeX in a one-line summary
        params = nb.get("metadata", {}).get("papermill", {}).get("parameters", {})
        tags = [f"{params['DATASET']}" if "DATASET" in params else "",
                f"{params['PROTOCOL']} split" if "PROTOCOL" in params else ""]
        if "-" in page.stem and any(tags):  # the runner's label: the notebook ran under these parameters
            title += " (" + ", ".join(t for t in tags if t) + ")"
    return title, line


# --- rendering ---------------------------------------------------------------------------------------------------

def _inline_html(text: str) -> str:
    """Escape, then `code`, **bold** and *italic* as HTML; a Markdown link [x](y) as a link."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)
    out = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<i>\1</i>", out)
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r"<a href='\2'>\1</a>", out)


def prose_html(text: str) -> str:
    """Prose as wrapping HTML: paragraphs, and lines that start with "- " as a list. Never <pre>."""
    blocks = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if lines and all(ln.startswith("- ") for ln in lines):
            blocks.append("<ul>" + "".join(f"<li>{_inline_html(ln[2:])}</li>" for ln in lines) + "</ul>")
        else:
            blocks.append(f"<p>{_inline_html(' '.join(ln.strip() for ln in lines))}</p>")
    return "\n".join(blocks)


def table_html(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p>(no runs yet)</p>"
    return frame.to_html(index=False, na_rep=MISSING, border=0, classes="dataframe", escape=True)


def table_md(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(no runs yet)"
    return frame.fillna(MISSING).to_markdown(index=False, disable_numparse=True)


VERDICT_CLASS = {"supported": "good", "holds up": "good", "not supported": "bad", "does not hold up": "bad",
                 "inflated": "bad", "inflated for some models": "bad"}
STYLE = """<style>
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;max-width:1000px;
margin:2em auto;padding:0 1em;line-height:1.5;color:#222}
h1{border-bottom:2px solid #5b2a86;padding-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
p,li{max-width:80ch;overflow-wrap:anywhere}
code{background:#f3f0f7;padding:0 .25em;border-radius:3px;font-size:90%}
table.dataframe{border-collapse:collapse;border:none;font-size:12px;margin:.5em 0 1em;display:block;overflow-x:auto}
table.dataframe th{text-align:right;font-weight:bold;border-bottom:1px solid #000;padding:4px 8px;vertical-align:bottom}
table.dataframe td{text-align:right;padding:4px 8px;border:none;white-space:nowrap}
table.dataframe tbody tr:nth-child(odd){background:#f5f5f5}table.dataframe tbody tr:hover{background:#e8e0f0}
.banner{background:#fde;padding:8px 12px;font-weight:bold;border-radius:4px}
.findings li{margin-bottom:.6em}.verdict{font-weight:bold;padding:0 .3em;border-radius:3px;background:#eee}
.verdict.good{background:#dcefdc}.verdict.bad{background:#f6d5d5}
img{max-width:100%}.nb li{margin-bottom:.3em}
</style>"""


def write_report(out: Path, datasets: list[str], params: dict, seconds: float) -> Path:
    """report.md and report.html under `out`; the HTML embeds its figures."""
    out = Path(out)
    runs, leak_runs = tables.collect_runs(out), selection.leakage_runs(out)
    leak, leak_source = leakage_rows(out, leak_runs)
    ablations = ablation_rows(out)
    figs = []
    drawn = [f for d in datasets for f in dataset_figures(runs, d)] if not runs.empty else []
    drawn += leakage_figure(leak_runs, leak)
    for i, (title, fig) in enumerate(drawn):
        figs.append((title, plots.save(fig, out / "figures" / f"{i:02d}.png")))
        plt.close(fig)  # only the report's own figures: a notebook's stay open
    synthetic = any(is_synthetic(d) for d in datasets)
    banner = ("SYNTHETIC data: the sample datasets are generated images; these results show the method, "
              "not medical findings." if synthetic else "")
    meta = pd.DataFrame({"setting": ["datasets", *params, "wall time (s)", *run_versions(runs)],
                         "value": [", ".join(datasets), *map(str, params.values()), f"{seconds:.0f}",
                                   *run_versions(runs).values()]})
    found = findings(selection.ablation_results(out), runs, datasets, leak)
    md = ["# Workbook report", ""] + ([f"**{banner}**", ""] if banner else [])
    body = ["<h1>Workbook report</h1>", f"<p class='banner'>{html.escape(banner)}</p>" if banner else ""]
    intro = ("The paper's claims, each tested on this run: the verdict, and why. A verdict rests on an interval "
             "by patient; where the interval includes 0 (or 0.5), the run cannot tell.")
    md += ["## What holds up, and what does not", "", intro, ""]
    body += ["<h2>What holds up, and what does not</h2>", prose_html(intro), "<ul class='findings'>"]
    if not found:
        md.append("- Nothing tested yet: run the workbook (`make run`).")
        body.append("<li>Nothing tested yet: run the workbook (<code>make run</code>).</li>")
    for f in found:
        md.append(f"- **{f['claim']}: {f['verdict']}.** {f['why']}")
        css = VERDICT_CLASS.get(f["verdict"], "")
        body.append(f"<li><b>{html.escape(f['claim'], quote=False)}:</b> <span class='verdict {css}'>"
                    f"{html.escape(f['verdict'])}</span>. {_inline_html(f['why'])}</li>")
    body.append("</ul>")
    if banner:
        md += ["", "On a synthetic sample these verdicts show how the method behaves, not how it does on patients."]
        body.append(prose_html("On a synthetic sample these verdicts show how the method behaves, not how it does "
                               "on patients."))
    parts = sections(runs, datasets, leak_runs, leak, ablations) + [("Parameters and versions", readable(meta))]
    for title, content in parts:
        if title.startswith("Leakage study"):
            title = f"Leakage study: image-level split vs patient split (from {leak_source})"
        md += ["", f"## {title}", ""]
        body.append(f"<h2>{_inline_html(title)}</h2>")
        if isinstance(content, pd.DataFrame):
            md.append(table_md(content))
            body.append(table_html(content))
        else:
            md.append(content)
            body.append(prose_html(content))
    md += ["", "## Figures", ""]
    body.append("<h2>Figures</h2>")
    for title, path in figs:
        md += [f"![{title}]({path.relative_to(out).as_posix()})", ""]
        data = base64.b64encode(path.read_bytes()).decode()
        body.append(f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' "
                    f"src='data:image/png;base64,{data}'>")
    pages = sorted((out / NOTEBOOK_DIR).glob("*.html"),  # the executed notebooks, rendered by the runner
                   key=lambda p: (p.stem.split("-")[0], p.stem.endswith(("-paper", "-kaggle")), p.stem))
    md += ["", "## Notebooks", ""]
    items = []
    for p in pages:
        title, line = notebook_line(p)
        link = p.relative_to(out).as_posix()
        md.append(f"- [{title}]({link})" + (f": {line}" if line else ""))
        items.append(f"<li><a href='{html.escape(link)}'>{html.escape(title, quote=False)}</a>"
                     + (f": {_inline_html(line)}" if line else "") + "</li>")
    body.append("<h2>Notebooks</h2><ul class='nb'>" + "".join(items) + "</ul>" if items else
                "<h2>Notebooks</h2><p>(none executed yet)</p>")
    write_text_atomic(out / "report.md", "\n".join(md) + "\n")
    return write_page(out / "report.html", f"<html><head><meta charset='utf-8'><title>Workbook report</title>"
                                           f"{STYLE}</head><body>" + "\n".join(body) + "</body></html>\n")
