"""report.html concludes: it opens with what holds up (the ablation's verdict, the leak beside its control, the
paper's table beside ours), its prose wraps (no <pre>), and report.md has no `nan` cell and no unnamed index."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook
from test_compare import fake_run

from bc_helpers.course.report import LEAKAGE_FILE, readable, write_report
from bc_helpers.runs.folders import RunFolder

VERDICT = "inconclusive at this size"


def _ablation(run: Path, cnn: Path, protocol: str, design: bool) -> None:
    def arm(folder: Path, roc: float) -> dict:
        return {"per_seed": [{"seed": 0, "run_dir": str(folder), "roc_auc": roc, "balanced_accuracy": 0.7}],
                "roc_auc": roc, "balanced_accuracy": 0.7}

    result = {"seeds": [0], "config": {"dataset": "sample", "protocol": protocol}, "test_patients": [10],
              "cnn": arm(cnn, 0.80), "cnn_lstm": arm(run, 0.81),
              "difference": {"roc_auc": {"estimate": 0.01, "ci": [-0.04, 0.06], "verdict": VERDICT},
                             "balanced_accuracy": {"estimate": 0.01, "ci": [-0.05, 0.07], "verdict": VERDICT}},
              "conclusion": f"The claim that the LSTM improves on the same CNN is {VERDICT}."}
    if design:
        result |= {"verdict": VERDICT, "design": {"folds": 5, "repeats": 2, "n_patients": 120, "n_test_patients": 24}}
        result["difference"]["roc_auc"]["seed_ci"] = [-0.03, 0.05]
    (run / "ablation.json").write_text(json.dumps(result))


def _tree(root: Path, design: bool = False, leakage: bool = False) -> Path:
    arms = {(protocol, model): fake_run(root, "sample", protocol, model, 0, signal)
            for protocol, model, signal in [("patient", "cnn_lstm", 1.5), ("paper", "cnn_lstm", 3.0),
                                            ("patient", "cnn", 1.2), ("paper", "cnn", 2.5)]}
    vgg = RunFolder(fake_run(root, "sample", "patient", "vgg16", 0, 2.0))
    test = vgg.read_predictions()
    vgg.write_predictions(test.assign(probability=0.5 + 1e-4 * test["probability"]))  # collapsed: flat outputs
    for (_, model), folder in [*arms.items(), (("patient", "vgg16"), vgg.path)]:
        (folder / "config.json").write_text(json.dumps({"train": {"seed": 0, "model": model}}))
        run = RunFolder(folder)
        m = run.read_metrics()
        run.write_metrics(m | {"confusion": {"tn": 80, "fp": 20, "fn": 30, "tp": 70}, "ci": {
            "roc_auc": [m["roc_auc"] - 0.1, min(m["roc_auc"] + 0.1, 1.0)],
            "balanced_accuracy": [m["balanced_accuracy"] - 0.1, m["balanced_accuracy"] + 0.1]}})
        pd.DataFrame({"epoch": [0, 1], "loss": [0.7, 0.4], "accuracy": [0.5, 0.8], "val_loss": [0.7, 0.5],
                      "val_accuracy": [0.5, 0.7]}).to_csv(folder / "history.csv", index=False)
    for protocol in ("patient", "paper"):
        _ablation(arms[protocol, "cnn_lstm"], arms[protocol, "cnn"], protocol, design)
    if leakage:
        rows = [{"dataset": "sample", "model": "cnn_lstm", "labels": labels, "image_protocol": "paper", "n_seeds": 2,
                 "patient": {"roc_auc": 0.8 if labels == "true" else 0.5, "balanced_accuracy": 0.7},
                 "image": {"roc_auc": 0.95 if labels == "true" else 0.9, "balanced_accuracy": 0.9},
                 "inflation": {"roc_auc": {"estimate": 0.15 if labels == "true" else 0.4, "ci": [0.05, 0.25]},
                               "balanced_accuracy": {"estimate": 0.2, "ci": [0.1, 0.3]}}}
                for labels in ("true", "random")]
        (root / LEAKAGE_FILE).write_text(json.dumps({"rows": rows}))
    nb = new_notebook(cells=[new_markdown_cell("# 08 · The paper's CNN-LSTM\n\n[![badge](x.svg)](y)\n\n"
                                               "Convolutions to see, an LSTM to read the rows.")])
    nb.metadata["papermill"] = {"parameters": {"DATASET": "sample", "PROTOCOL": "patient"}}
    (root / "notebooks").mkdir()
    nbformat.write(nb, root / "notebooks" / "08_cnn_lstm-sample-patient.ipynb")
    (root / "notebooks" / "08_cnn_lstm-sample-patient.html").write_text("<html><body></body></html>")
    write_report(root, ["sample"], {"EPOCHS": 1}, 12.0)
    return root


@pytest.fixture(scope="module", params=[False, True], ids=["run-folders", "leakage.json"])
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tree(tmp_path_factory.mktemp("report"), design=request.param, leakage=request.param)


def test_the_report_opens_with_what_holds_up_and_the_ablations_verdict(report: Path) -> None:
    page = (report / "report.html").read_text()
    assert "<body>" in page and "<h1>Workbook report</h1>" in page
    head = page.index("What holds up, and what does not")
    assert head < page.index("the paper's table beside ours") < page.index("<h2>Figures</h2>")
    assert VERDICT in page[head:page.index("the paper's table beside ours")]
    assert "ROC-AUC difference +0.010, 95% interval by patient -0.040 to +0.060" in page
    assert "An image split inflates the scores" in page
    assert ("random labels" in page) == (report / "leakage.json").exists()  # the control, where leakage.json has it
    assert "vgg16 (collapsed)" in page or "VGG-16" in page and "collapsed" in page


def test_the_reports_prose_wraps_and_its_notebooks_have_a_line_each(report: Path) -> None:
    page = (report / "report.html").read_text()
    assert "<pre" not in page
    assert "08 · The paper's CNN-LSTM (sample, patient split)</a>: Convolutions to see, an LSTM" in page


def test_report_md_has_no_nan_and_no_unnamed_index_column(report: Path) -> None:
    md = (report / "report.md").read_text()
    assert not re.search(r"\bnan\b", md, re.IGNORECASE)
    for line in md.splitlines():
        if line.startswith("|") and not set(line) <= set("|-: "):
            first = line.split("|")[1].strip()
            assert first and not first.isdigit(), f"unnamed or numbered first column: {line[:80]}"
    assert f"**The LSTM improves on the same CNN, the paper's central claim (sample, patient split): {VERDICT}.**" in md


def test_a_design_and_the_leakage_file_are_read_when_present(tmp_path: Path) -> None:
    _tree(tmp_path, design=True, leakage=True)
    page = (tmp_path / "report.html").read_text()
    assert "Over training runs the difference ranges -0.030 to +0.050" in page
    assert "folds 5" in page and "random labels" in page and f"from <code>{LEAKAGE_FILE}</code>" in page


def test_readable_tables_have_no_index_snake_case_or_nan() -> None:
    frame = pd.DataFrame({"roc_auc": [0.81234, float("nan")], "roc_auc_ci": [(0.7, 0.9), (float("nan"),) * 2]},
                         index=pd.Index(["cnn", "cnn_lstm"], name="model"))
    shown = readable(frame)
    assert list(shown.columns) == ["model", "ROC-AUC", "ROC-AUC 95% interval"]
    assert shown.to_dict("records")[0] == {"model": "cnn", "ROC-AUC": "0.812",
                                           "ROC-AUC 95% interval": "[+0.700, +0.900]"}
    assert shown.iloc[1, 1] == "–" and shown.iloc[1, 2] == "–"


def test_tables_show_paths_relative_to_the_repository() -> None:
    from bc_helpers import paths
    from bc_helpers.course.report import readable

    root = paths.repo_root()
    frame = pd.DataFrame({"run_dir": [str(root / "runs" / "sample" / "cnn")],
                          "hparams": [str({"weights": str(root / "runs" / "a" / "model.keras")})]})
    shown = readable(frame)
    assert shown.iloc[0, 0] == "runs/sample/cnn" and str(root) not in shown.iloc[0, 1]
