"""Runs that survive a kill, repeat exactly, refuse bad input clearly, and scale over devices."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bc_helpers import fetch
from bc_helpers.errors import WorkbookError

pytestmark = pytest.mark.slow


def _train_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bc_helpers", "train", "--dataset", "sample", "--data-dir", str(data),
            "--model", "cnn", "--image-size", "24", "--batch-size", "16", "--balance", "class_weight",
            "--quiet", "--out", str(out), *extra]


def _weights(run: Path) -> list[np.ndarray]:
    from bc_helpers.inference import load_model

    return load_model(run / "model.keras").get_weights()


def test_a_killed_run_resumes_from_its_checkpoint(tiny_sample: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    cmd = _train_cmd(tiny_sample / "idc", run, "--epochs", "6", "--patience", "10", "--image-size", "32")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history = run / "history.csv"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if history.exists() and len(history.read_text().splitlines()) >= 3:  # header + 2 epochs
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "metrics.json").exists() and (run / "backup").is_dir()
    for path in run.glob("*.json"):
        json.loads(path.read_text())  # written atomically: never half a file
    rows_at_kill = len(pd.read_csv(history))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert pd.read_csv(history)["epoch"].tolist() == list(range(6)), "every epoch once, none repeated or lost"
    resumed_at = int(re.search(r"Epoch (\d+)/6", out.stdout)[1])
    # The checkpoint is saved after the epoch's history row, so it is at most one epoch behind it.
    assert rows_at_kill - 1 <= resumed_at - 1 <= rows_at_kill and resumed_at >= 2, out.stdout[:500]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_run"] == 6 and not (run / "backup").exists()


def test_same_seed_same_split_weights_and_metrics(tiny_sample: Path, tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        out = subprocess.run(_train_cmd(tiny_sample / "idc", tmp_path / name, "--epochs", "1", "--deterministic"),
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        runs.append(tmp_path / name)
    a, b = runs
    assert (a / "split.csv").read_text() == (b / "split.csv").read_text()
    for wa, wb in zip(_weights(a), _weights(b), strict=True):
        assert np.array_equal(wa, wb)
    ma, mb = (json.loads((r / "metrics.json").read_text()) for r in runs)
    for key in ("roc_auc", "balanced_accuracy", "threshold", "confusion"):
        assert ma[key] == mb[key]


def test_mirrored_over_two_cpu_devices_matches_one_device(tiny_sample: Path, tmp_path: Path) -> None:
    common = ["--model", "lstm", "--epochs", "1", "--deterministic", "--no-augment", "--hparams", '{"dropout": 0}']
    one = subprocess.run(_train_cmd(tiny_sample / "idc", tmp_path / "one", *common), capture_output=True,
                         text=True, timeout=600)
    two = subprocess.run(_train_cmd(tiny_sample / "idc", tmp_path / "two", *common, "--strategy", "mirrored",
                                    "--cpu-devices", "2"), capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-2000:]
    assert two.returncode == 0, two.stderr[-2000:]
    p1 = pd.read_csv(tmp_path / "one" / "predictions.csv")["probability"]
    p2 = pd.read_csv(tmp_path / "two" / "predictions.csv")["probability"]
    # Not bit for bit: the gradient all-reduce sums in another order and the last, smaller batch is split
    # unevenly between the replicas (measured here: probabilities differ by a few hundredths after an epoch).
    assert p1.corr(p2, method="spearman") > 0.9 and (p1 - p2).abs().max() < 0.1
    m1, m2 = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in ("one", "two"))
    assert abs(m1["roc_auc"] - m2["roc_auc"]) < 0.05


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_workers(data: Path, tmp_path: Path, *args: str) -> list[tuple[int, str]]:
    workers = [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]
    procs = []
    for i in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config)}
        procs.append(subprocess.Popen(_train_cmd(data, tmp_path / f"w{i}", *args), env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    errors = [p.communicate(timeout=600)[1] for p in procs]
    return [(p.returncode, err) for p, err in zip(procs, errors, strict=True)]


def test_two_worker_multiworker_run_on_localhost(tiny_sample: Path, tmp_path: Path) -> None:
    results = _two_workers(tiny_sample / "idc", tmp_path, "--epochs", "2", "--patience", "5")
    assert all(code == 0 for code, _ in results), results[0][1][-2000:] + results[1][1][-2000:]
    runs = [tmp_path / "w0", tmp_path / "w1"]
    histories = [pd.read_csv(run / "history.csv") for run in runs]
    for run, history in zip(runs, histories, strict=True):
        assert list(history["epoch"]) == [0, 1] and history["val_loss"].notna().all()
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["epochs_run"] == 2 and 0 <= metrics["roc_auc"] <= 1
    # Losses are all-reduced, so both workers log the same history and take the same early-stopping decisions;
    # gradients and batch-norm statistics are all-reduced, so both end with the same weights, moving statistics
    # included (each worker saw half of every batch).
    pd.testing.assert_frame_equal(histories[0], histories[1])
    for wa, wb in zip(_weights(runs[0]), _weights(runs[1]), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


def test_predict_skips_a_decompression_bomb_and_predicts_the_rest(tmp_path: Path) -> None:
    import PIL.Image

    from bc_helpers.inference import predict
    from bc_helpers.models import build_model

    model_path = tmp_path / "model.keras"
    build_model("cnn", image_size=24).save(model_path)
    bomb, good = tmp_path / "huge.png", tmp_path / "ok.png"
    Image.new("L", (8000, 8000)).save(bomb)
    Image.new("RGB", (50, 42), (200, 120, 180)).save(good)
    limit = PIL.Image.MAX_IMAGE_PIXELS
    frame, skipped = predict(model_path, [bomb, good])
    assert frame["path"].tolist() == [str(good)] and frame["probability"].between(0, 1).all()
    assert [s["path"] for s in skipped] == [str(bomb)] and "too large to decode safely" in skipped[0]["reason"]
    assert PIL.Image.MAX_IMAGE_PIXELS == limit  # the guard is ours: PIL's process-wide limit is left alone


def test_a_full_disk_leaves_data_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_sample: Path) -> None:
    import shutil
    import zipfile

    archive = tmp_path / "idc.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted((tiny_sample / "idc").rglob("*.png"))[:20]:
            zf.write(f, f.relative_to(tiny_sample / "idc"))
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(fetch.shutil, "disk_usage", lambda _: usage._replace(free=10))
    with pytest.raises(WorkbookError, match="free some space"):
        fetch.unpack("idc", archive, tmp_path / "raw" / "idc")
    assert not (tmp_path / "raw" / "idc").exists() and archive.exists()


def test_comparison_notebook_with_no_results_says_what_to_run(tmp_path: Path) -> None:
    import papermill

    from bc_helpers import paths

    out = tmp_path / "09.ipynb"
    papermill.execute_notebook(str(paths.repo_root() / "notebooks" / "09_comparison.ipynb"), str(out),
                               parameters={"RUN_DIR": str(tmp_path / "empty"), "INTERACTIVE": False},
                               kernel_name="python3", progress_bar=False)
    text = out.read_text()
    assert "0 finished runs" in text and "run notebooks/08_cnn_lstm.ipynb" in text
