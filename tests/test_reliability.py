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

from bc_helpers.data import fetch
from bc_helpers.errors import WorkbookError


def _train_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bc_helpers", "train", "--dataset", "sample", "--data-dir", str(data),
            "--model", "cnn", "--image-size", "24", "--batch-size", "16", "--balance", "class_weight",
            "--quiet", "--out", str(out), *extra]


def _weights(run: Path) -> list[np.ndarray]:
    from bc_helpers.training.inference import load_model

    return load_model(run / "model.keras").get_weights()


@pytest.mark.slow
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


@pytest.mark.slow
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


_MIRRORED = """
import json, sys
import numpy as np
from bc_helpers.models.runtime import split_cpu, set_seed
split_cpu(2)
from bc_helpers.training.distributed import choose_strategy, synchronize_batch_norm
from bc_helpers.models.builders import build_model
from bc_helpers.models.pipeline import make_dataset
from bc_helpers.training.trainer import compile_model
rng = np.random.default_rng(0)
x = rng.integers(0, 255, (96, 24, 24, 3), dtype=np.uint8)
y = (x[..., 0].mean(axis=(1, 2)) > 127).astype("float32")
w = np.where(y == 1, 2.0, 0.7).astype("float32")
out = {}
for name in ("default", "mirrored"):
    set_seed(0, deterministic=True)
    strategy = choose_strategy(name)
    with strategy.scope():
        model = build_model(sys.argv[1], image_size=24, output="sigmoid", augment=False, dropout=0)
        compile_model(model, 1e-3)
    synchronize_batch_norm(model, strategy)
    start = model.get_weights()
    model.fit(make_dataset(x, y, 16, weights=w), epochs=2, verbose=0)
    out[name] = {"replicas": strategy.num_replicas_in_sync, "start": start, "end": model.get_weights()}
a, b = out["default"], out["mirrored"]
print(json.dumps({"replicas": [a["replicas"], b["replicas"]],
                  "start": max(float(np.abs(p - q).max()) for p, q in zip(a["start"], b["start"])),
                  "end": max(float((np.abs(p - q) / (1 + np.abs(p))).max()) for p, q in zip(a["end"], b["end"])),
                  "moved": max(float(np.abs(p - q).max()) for p, q in zip(a["start"], a["end"]))}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("model", ["cnn", "lstm"])
def test_mirrored_over_two_cpu_devices_matches_one_device(model: str) -> None:
    """The same weighted batches give the same weights on two devices as on one, up to the order in which
    the all-reduce sums (compared relative to each weight's size). Two things would differ, measured here, so
    the test holds them fixed: under MirroredStrategy tf.data's per-epoch reshuffle draws another (equally
    random) order of rows than on one device, and a last batch split unevenly (3 + 2 images) averages each
    replica's loss on its own (measured: weights apart by up to 0.45 and 0.02)."""
    out = subprocess.run([sys.executable, "-c", _MIRRORED, model], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    diff = json.loads(out.stdout.strip().splitlines()[-1])
    assert diff["replicas"] == [1, 2] and diff["start"] == 0.0
    assert diff["moved"] > 1e-3 and diff["end"] < 1e-4, diff  # measured: 2e-5 (cnn), 3e-7 (lstm)


@pytest.mark.slow
def test_train_runs_mirrored_over_two_cpu_devices(tiny_sample: Path, tmp_path: Path) -> None:
    out = subprocess.run(_train_cmd(tiny_sample / "idc", tmp_path / "two", "--epochs", "1", "--strategy",
                                    "mirrored", "--cpu-devices", "2"), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    from bc_helpers.runs.folders import RunFolder

    run = RunFolder(tmp_path / "two")
    split = pd.read_csv(run.split)
    predictions = run.read_predictions("test")
    assert len(predictions) == (split["part"] == "test").sum() and predictions["probability"].between(0, 1).all()
    assert run.read_config()["train"]["model"] == "cnn"


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


@pytest.mark.slow
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

    from bc_helpers.models.builders import build_model
    from bc_helpers.training.inference import predict

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


@pytest.mark.slow
def test_comparison_notebook_with_no_results_says_what_to_run(tmp_path: Path) -> None:
    import papermill

    from bc_helpers import paths

    out = tmp_path / "09.ipynb"
    papermill.execute_notebook(str(paths.repo_root() / "notebooks" / "09_comparison.ipynb"), str(out),
                               parameters={"RUN_DIR": str(tmp_path / "empty")},
                               kernel_name="python3", progress_bar=False)
    text = out.read_text()
    assert "0 runs selected" in text and "run notebooks/08_cnn_lstm.ipynb with DATASET='sample'" in text
