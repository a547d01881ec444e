"""metrics.json's typed record: a real run's file reads and writes back unchanged, a misspelt key is refused (when
the file is read, and by the type checker when the code is checked)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fakes import write_run

from bc_helpers.errors import WorkbookError
from bc_helpers.runs import MetricsRecord, RunFolder

REPO = Path(__file__).resolve().parents[1]


def _same_json(a: dict, b: dict) -> bool:
    """Equal as files (NaN equals NaN, a tuple a list)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def round_trips(content: dict) -> bool:
    """Whether metrics.json's content reads into a record that writes it back unchanged (an older file without
    `labels` gains the default)."""
    return _same_json(MetricsRecord.from_json(content).to_json(), {"labels": "true", **content})


def _fake(tmp_path: Path, **fields: object) -> RunFolder:
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 60)
    return RunFolder(write_run(tmp_path / "run", y, rng.uniform(size=120) * 0.5 + 0.5 * y,
                               np.repeat(np.arange(12), 10), fields=fields))


def test_the_fake_run_reads_as_a_record_and_writes_back_unchanged(tmp_path: Path) -> None:
    run = _fake(tmp_path, model="cnn_lstm")
    record = run.read_record()
    assert record.model == "cnn_lstm" and record.confusion.tp + record.confusion.fn == 60
    assert record.ci["roc_auc"][0] <= record.roc_auc <= record.ci["roc_auc"][1]
    assert round_trips(run.read_metrics()) and MetricsRecord.from_json(record.to_json()) == record


def test_a_control_run_keeps_its_marks(tmp_path: Path) -> None:
    run = _fake(tmp_path, labels="random", control=True)
    assert run.read_metrics()["control"] is True and run.read_record().labels == "random"
    assert "control" not in _fake(tmp_path / "other").read_metrics()


@pytest.mark.parametrize("where", ["top", "val", "timing"])
def test_a_misspelt_key_is_refused_naming_the_file_and_the_key(tmp_path: Path, where: str) -> None:
    run = _fake(tmp_path)
    content = run.read_metrics()
    part = content if where == "top" else content[where]
    part["roc_acu" if where != "timing" else "train_secs"] = part.pop("roc_auc" if where != "timing" else
                                                                      "train_seconds")
    run.metrics.write_text(json.dumps(content))
    with pytest.raises(WorkbookError, match="unknown key '(roc_acu|train_secs)'") as error:
        run.read_record()
    assert str(run.metrics) in str(error.value)


def test_a_missing_key_is_refused(tmp_path: Path) -> None:
    run = _fake(tmp_path)
    content = run.read_metrics()
    del content["n_patients"]
    with pytest.raises(WorkbookError, match="'n_patients' is missing"):
        MetricsRecord.from_json(content, "x/metrics.json")


@pytest.mark.skipif(shutil.which("mypy") is None and not (Path(sys.executable).parent / "mypy").exists(),
                    reason="mypy is not installed")
def test_the_type_checker_refuses_a_misspelt_field(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text("from bc_helpers.runs import RunFolder\n\n"
                       "def auc(run: RunFolder) -> float:\n    return run.read_record().roc_acu\n")
    out = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"), str(snippet)],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 1 and '"MetricsRecord" has no attribute "roc_acu"' in out.stdout, out.stdout
