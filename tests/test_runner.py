"""The papermill runner: parameters checked before anything runs, executed copies beside the sources,
a failing notebook named with its cell, and a report built from run folders."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from bc_helpers.course import runner
from bc_helpers.course.report import write_report
from bc_helpers.errors import WorkbookError


def _notebook(path: Path, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('DATASET: str = "sample"  # dataset\nEPOCHS: int = 3  # epochs\n'
                                       'RUN_DIR: str = "runs"  # out\nINTERACTIVE: bool = True  # widgets')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def fake_notebooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "ok.ipynb", "from pathlib import Path\nPath(RUN_DIR, 'ok.txt').write_text(str(EPOCHS))")
    _notebook(folder / "broken.ipynb", "x = 1\nraise ValueError('the data is missing')")
    monkeypatch.setattr(runner, "notebooks_dir", lambda: folder)
    return folder


def test_executes_a_copy_with_parameters_and_never_writes_the_source(fake_notebooks: Path, tmp_path: Path) -> None:
    source = (fake_notebooks / "ok.ipynb").read_text()
    with runner.this_kernel(tmp_path / "kernel"):
        copy = runner.execute(runner.Step("ok", {"DATASET": "idc"}), tmp_path / "out", {"EPOCHS": 7})
    assert (tmp_path / "out" / "ok.txt").read_text() == "7"
    assert copy == tmp_path / "out" / "notebooks" / "ok-idc.ipynb" and copy.exists()
    assert (fake_notebooks / "ok.ipynb").read_text() == source


def test_a_failing_notebook_is_named_with_its_cell(fake_notebooks: Path, tmp_path: Path) -> None:
    with runner.this_kernel(tmp_path / "kernel"), pytest.raises(WorkbookError) as err:
        runner.execute(runner.Step("broken"), tmp_path / "out", {})
    message = str(err.value)
    assert "broken.ipynb failed in cell" in message and "ValueError: the data is missing" in message
    assert str(tmp_path / "out" / "notebooks" / "broken.ipynb") in message


def test_parameters_are_checked_before_running(fake_notebooks: Path) -> None:
    steps = [runner.Step("ok")]
    runner.check_parameters({"EPOCHS": 5, "DATASET": "idc"}, steps)
    with pytest.raises(WorkbookError, match="unknown parameter 'EPOCH'"):
        runner.check_parameters({"EPOCH": 5}, steps)
    with pytest.raises(WorkbookError, match="EPOCHS expects int, got 'many'"):
        runner.check_parameters({"EPOCHS": "many"}, steps)
    with pytest.raises(WorkbookError, match="EPOCHS expects int"):
        runner.check_parameters({"EPOCHS": True}, steps)


def test_values_are_read_as_yaml() -> None:
    assert [runner.parse_value(v) for v in ("3", "0.5", "true", "null", "idc", "[1, 2]")] == [
        3, 0.5, True, None, "idc", [1, 2]]


def test_the_plan_covers_every_notebook_and_the_leak_check() -> None:
    steps = runner.plan(["sample", "sample_breakhis"], ["cnn_lstm"])
    labels = [s.label for s in steps]
    assert labels[0] == "00_index" and labels[-1] == "09_comparison"
    assert "08_cnn_lstm-sample-paper" in labels and "08_cnn_lstm-sample_breakhis-kaggle" in labels
    assert sum(label.startswith("03_cnn-") for label in labels) == 2
    leaky = [s for s in steps if s.params.get("PROTOCOL") in ("paper", "kaggle")]
    assert leaky and all(s.params["RUN_SOLUTIONS"] is False for s in leaky)  # run once, in the patient split's run
    assert all(s.params["SEEDS"] == [] for s in leaky)  # the ablation too
    assert all("RUN_SOLUTIONS" not in s.params for s in steps if s not in leaky)
    notebooks = {p.stem for p in (runner.paths.repo_root() / "notebooks").glob("*.ipynb")}
    assert {s.notebook for s in steps} == notebooks | {runner.STUDY}
    study = [s.label for s in steps if s.notebook == runner.STUDY]
    assert study == ["leakage-sample", "leakage-sample_breakhis"]  # the leakage study of each dataset, before 09
    assert labels.index(study[-1]) < labels.index("09_comparison")
    assert runner.STUDY not in {s.notebook for s in runner.plan(["sample"], ["cnn_lstm"], leakage=False)}
    runner.check_parameters({"EPOCHS": 5}, steps)  # the study's steps declare no parameters


def test_run_command_refuses_bad_parameters_before_running(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "bc_helpers", "run", "-p", "EPOCHS", "many", "--out",
                          str(tmp_path / "w")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "EPOCHS expects int" in out.stderr
    assert not (tmp_path / "w").exists()


def test_report_without_runs_says_what_is_missing(tmp_path: Path) -> None:
    report = write_report(tmp_path, ["sample"], {"EPOCHS": 1}, 1.0)
    text = (tmp_path / "report.md").read_text()
    assert report.exists() and "SYNTHETIC" in text and "run notebooks/08_cnn_lstm.ipynb" in text
    assert "EPOCHS" in text


def test_report_from_a_real_run(tmp_path: Path, tiny_sample: Path) -> None:
    from bc_helpers.runs import TrainConfig
    from bc_helpers.training.trainer import train

    for protocol in ("patient", "paper"):
        for seed in (0, 1):
            config = TrainConfig(data_dir=str(tiny_sample / "idc"), model="cnn", epochs=1, image_size=24,
                                 protocol=protocol, balance="class_weight", seed=seed)
            train(config, tmp_path / "sample" / protocol / f"cnn-{seed}", verbose=0)
    write_report(tmp_path, ["sample"], {}, 1.0)
    leak = (tmp_path / "report.md").read_text().split("## Leakage study")[1].split("##")[0]
    assert re.search(r"\| sample +\| cnn +\| paper +\| +2 +\|", leak, re.IGNORECASE), leak  # both seeds
    assert re.search(r"\| \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\] +\|", leak)  # intervals as [low, high], 3 decimals
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64" in html and "inflation" in html
    md = (tmp_path / "report.md").read_text()
    metrics = json.loads((tmp_path / "sample" / "patient" / "cnn-1" / "metrics.json").read_text())
    assert f"{metrics['roc_auc']:.3f}" in md  # 3 decimals, as every table of the report
    assert "ours: ROC-AUC" in md and "paper: ROC-AUC" in md  # the paper table's two-level headers, flattened
    versions = json.loads((tmp_path / "sample" / "patient" / "cnn-1" / "config.json").read_text())["versions"]
    assert re.search(rf"\| tensorflow +\| {re.escape(versions['tensorflow'])} ", md)  # the versions the runs used


def test_every_executed_notebook_is_also_written_as_html(fake_notebooks: Path, tmp_path: Path) -> None:
    with runner.this_kernel(tmp_path / "kernel"):
        copy = runner.execute(runner.Step("ok"), tmp_path / "out", {"EPOCHS": 4})
    page = runner.write_html(copy)
    assert page == copy.with_suffix(".html")
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "'ok.txt'" in html and "injected-parameters" in html
    write_report(tmp_path / "out", ["sample"], {}, 1.0)
    assert "<a href='notebooks/ok.html'>ok</a>" in (tmp_path / "out" / "report.html").read_text()


def test_leaky_runs_of_08_train_the_setting_chosen_on_the_patient_split(tmp_path: Path) -> None:
    from bc_helpers.runs.tuning import search_dir

    step = runner.Step("08_cnn_lstm", {"DATASET": "sample", "PROTOCOL": "paper"})
    assert runner.with_chosen_setting(step, tmp_path) == step  # nothing chosen yet: 08 searches itself
    search_dir(tmp_path, "sample").mkdir(parents=True)
    (search_dir(tmp_path, "sample") / "choice.json").write_text(json.dumps(
        {"hparams": {"lstm_units": 32}, "learning_rate": 3e-4, "best": {"lstm_units": 32}}))
    leaky = runner.with_chosen_setting(step, tmp_path)
    assert leaky.params == {"DATASET": "sample", "PROTOCOL": "paper", "HPARAMS": {"lstm_units": 32},
                            "LEARNING_RATE": 3e-4, "GRID": {}}
    honest = runner.Step("08_cnn_lstm", {"DATASET": "sample", "PROTOCOL": "patient"})
    assert runner.with_chosen_setting(honest, tmp_path) == honest


def test_each_step_waits_for_what_it_needs() -> None:
    steps = runner.plan(["sample", "sample_breakhis"], ["cnn_lstm"])
    by_label = {s.label: s for s in steps}

    def needs(label: str) -> set[str]:
        return {s.label for s in runner.needs(by_label[label], steps)}

    assert needs("08_cnn_lstm-sample-paper") == {"08_cnn_lstm-sample-patient"}
    assert needs("08_cnn_lstm-sample_breakhis-kaggle") == {"08_cnn_lstm-sample_breakhis-patient"}
    assert needs("06_vgg16-sample_breakhis-patient") == {"06_vgg16-sample-patient"}
    assert needs("06_vgg16-sample-patient") == needs("03_cnn-sample-patient") == set()
    assert needs("09_comparison") == set(by_label) - {"09_comparison"}


def test_two_notebooks_run_at_once(fake_notebooks: Path, tmp_path: Path) -> None:
    # "waits" finishes only once "signals" has written its file while "waits" is still running: with one
    # notebook at a time it would fail after 120 s.
    _notebook(fake_notebooks / "waits.ipynb", "import time\nfrom pathlib import Path\nstart = time.time()\n"
              "while not Path(RUN_DIR, 'signal').exists():\n    assert time.time() - start < 120, 'alone'\n"
              "    time.sleep(0.1)")
    _notebook(fake_notebooks / "signals.ipynb", "from pathlib import Path\nPath(RUN_DIR, 'signal').touch()")
    out = tmp_path / "out"
    with runner.this_kernel(tmp_path / "kernel"):
        runner.run_steps([runner.Step("waits"), runner.Step("signals")], out, {}, jobs=2)
    assert (out / "notebooks" / "waits.html").exists() and (out / "notebooks" / "signals.html").exists()


def test_a_failure_stops_the_run_before_the_steps_that_wait(fake_notebooks: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    with runner.this_kernel(tmp_path / "kernel"), pytest.raises(WorkbookError, match="broken.ipynb failed in cell"):
        runner.run_steps([runner.Step("broken"), runner.Step("ok"), runner.Step("09_comparison")], out, {}, jobs=2)
    assert (out / "notebooks" / "ok.ipynb").exists()  # ran beside the failing one
    assert not (out / "notebooks" / "09_comparison.ipynb").exists()  # needs both: never started
    assert "broken FAILED" in capsys.readouterr().out
