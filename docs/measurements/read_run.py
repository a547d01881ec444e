"""The executed course read as issue 25 asks, after a `make run`: what a student sees in each executed notebook,
and what the report says.

    .venv/bin/python docs/measurements/read_run.py [RUN_DIR]      (default runs/sample)

Checks, each printed with what it found:
- no stderr output, no error output, no absolute path and no `../shared` in any notebook output;
- "recognised" never said of a run whose ROC-AUC interval includes 0.5 or whose test probabilities have a standard
  deviation under 0.02, and every such collapsed run marked "collapsed" in its notebook and in the report;
- on every patient-split run whose ROC-AUC interval lies above 0.5, accuracy on the images the review band decides
  is at least the accuracy on all images (within 0.01);
- no page references a CDN; report.md holds no `nan` cell and no unnamed index column; report.html holds the
  ablation's verdict and no <pre> prose;
- the run's leakage.json and ablation.json carry their contract fields.
Writes RUN_DIR/read_run.json with every finding.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from bc_helpers.evaluation.decisions import review_flags
from bc_helpers.runs.folders import RunFolder

ROOT = Path(__file__).resolve().parents[2]
ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:work|home|root|tmp|usr|opt|var|mnt)/[\w./-]+")
CDN = re.compile(r"https?://[^\"' )]*(?:cdn|jsdelivr|unpkg|cdnjs|googleapis)[^\"' )]*")
LEAK_KEYS = {"dataset", "model", "labels", "image_protocol", "n_seeds", "n_patients", "threshold_rule", "patient",
             "image", "inflation"}


def output_texts(cell: dict) -> list[tuple[str, str]]:
    """(kind, text) of a code cell's outputs: stream name, "error", or the mime type."""
    found = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            found.append((out["name"], "".join(out["text"])))
        elif out["output_type"] == "error":
            found.append(("error", f"{out['ename']}: {out['evalue']}"))
        else:
            for mime, data in out.get("data", {}).items():
                if mime.startswith("text/"):
                    found.append((mime, "".join(data) if isinstance(data, list) else data))
    return found


def read_notebook(path: Path) -> dict:
    """What a student sees that they should not: stderr, errors, absolute paths, ../shared."""
    nb = json.loads(path.read_text())
    problems: list[str] = []
    words = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        for kind, text in output_texts(cell):
            words.append(text)
            if kind in ("stderr", "error"):
                problems.append(f"cell {i}: {kind}: {text.strip()[:160]}")
            for hit in ABSOLUTE.findall(text) + (["../shared"] if "../shared" in text else []):
                problems.append(f"cell {i}: path {hit}")
    return {"problems": problems, "text": "\n".join(words)}


def run_checks(run: Path) -> dict:
    """Every patient-split run folder: its spread, interval, reading in its notebook and the review band."""
    rows = []
    for metrics_file in sorted(run.glob("*/*/*/metrics.json")):
        folder = RunFolder(metrics_file.parent)
        m = json.loads(metrics_file.read_text())
        test = folder.read_predictions("test")
        lo, hi = m["ci"]["roc_auc"]
        correct = (test["predicted"] == test["label"]).to_numpy()
        share = float(json.loads(folder.config.read_text())["train"].get("review_width", 0.1))
        refer = review_flags(test["probability"].to_numpy(), m["threshold"], share)
        rows.append({"run": str(metrics_file.parent.relative_to(run)), "protocol": metrics_file.parts[-3],
                     "roc_auc": m["roc_auc"], "ci": [lo, hi], "sd": float(test["probability"].std()),
                     "threshold_rule": m.get("threshold_rule"), "labels": m.get("labels", "true"),
                     "accuracy_all": float(correct.mean()),
                     "accuracy_decided": float(correct[~refer].mean()) if (~refer).any() else float("nan"),
                     "referred": float(refer.mean())})
    return {"runs": rows}


def main(run: Path) -> int:
    found: dict = {"notebooks": {}, "failures": []}
    texts = {}
    for nb in sorted((run / "notebooks").glob("*.ipynb")):
        read = read_notebook(nb)
        texts[nb.stem] = read["text"]
        found["notebooks"][nb.stem] = read["problems"]
        found["failures"] += [f"{nb.stem}: {p}" for p in read["problems"]]
    runs = run_checks(run)["runs"]
    found["runs"] = runs
    report_md = (run / "report.md").read_text()
    for r in runs:
        weak = r["ci"][0] <= 0.5 or r["sd"] < 0.02
        dataset, protocol, model = r["run"].split("/")[:3]
        pages = [t for name, t in texts.items() if name.endswith(f"-{dataset}-{protocol}")
                 and name.split("-")[0][3:].startswith(model.split("-")[0])]
        said = " ".join(pages)
        if weak and re.search(r"\brecognised\b", said) and "collapsed" not in said.lower() and r["labels"] == "true":
            found["failures"].append(f"{r['run']}: interval {r['ci']} or SD {r['sd']:.3f} yet 'recognised' nearby")
        if r["sd"] < 0.02 and protocol == "patient" and "collapsed" not in report_md.lower():
            found["failures"].append(f"{r['run']}: collapsed (SD {r['sd']:.4f}) but the report never says so")
        if protocol == "patient" and r["ci"][0] > 0.5 and r["accuracy_decided"] < r["accuracy_all"] - 0.01:
            found["failures"].append(f"{r['run']}: the band's decided accuracy {r['accuracy_decided']:.3f} < "
                                     f"{r['accuracy_all']:.3f} on all")
    for page in [run / "report.html", *sorted((run / "notebooks").glob("*.html"))]:
        if CDN.search(page.read_text()):
            found["failures"].append(f"{page.name}: references a CDN: {CDN.search(page.read_text()).group(0)}")
    for line in report_md.splitlines():
        if line.startswith("|") and (re.search(r"\|\s*nan\s*\|", line, re.I) or line.startswith("|    |")):
            found["failures"].append(f"report.md: {line[:120]}")
    report_html = (run / "report.html").read_text()
    if "<pre" in report_html:
        found["failures"].append("report.html holds <pre>")
    if not re.search(r"The LSTM improves on the same CNN.*?(supported|inconclusive|too few patients)", report_html,
                     re.S):
        found["failures"].append("report.html: no ablation verdict")
    leakage = json.loads((run / "leakage.json").read_text()) if (run / "leakage.json").is_file() else []
    found["leakage_rows"] = [(r["dataset"], r["model"], r["labels"]) for r in leakage]
    if not leakage or any(not LEAK_KEYS <= set(r) for r in leakage):
        found["failures"].append("leakage.json missing or without its fields")
    for path in sorted(run.glob("*/*/ablation.json")):
        a = json.loads(path.read_text())
        if not {"design", "verdict"} <= set(a):
            found["failures"].append(f"{path.relative_to(run)}: no design or verdict")
    (run / "read_run.json").write_text(json.dumps(found, indent=2, default=str) + "\n")
    frame = pd.DataFrame(runs)
    if not frame.empty:
        print(frame[["run", "roc_auc", "sd", "threshold_rule", "accuracy_all", "accuracy_decided"]].round(3)
              .to_string(index=False))
    print("\n".join(found["failures"]) or "no failures")
    return 1 if found["failures"] else 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "runs" / "sample"))
