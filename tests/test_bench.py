"""`bench --quick` runs on a clean machine and writes every field of its JSON contract (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bc_helpers.models import MODEL_NAMES


@pytest.mark.slow
def test_bench_quick_writes_valid_json_with_every_field(tmp_path: Path, tiny_sample: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "bc_helpers", "bench", "--quick", "--dataset", "sample",
                           "--data-dir", str(tiny_sample / "idc"), "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "matmul peak" in done.stdout and "cnn_lstm" in done.stdout
    result = json.loads(out.read_text())
    assert result["matmul_gflops"] > 0
    assert {"cpu", "cores", "tensorflow"} <= result["machine"].keys()
    assert result["settings"]["batch_size"] > 0 and "tuning" not in result  # tuning is for the full run
    assert {"cache_images_per_s", "keras_loader_images_per_s", "ratio_vs_keras_loader",
            "ratio_vs_training"} <= result["input"].keys()
    for name in MODEL_NAMES:
        for size, figures in result["training"][name].items():
            assert int(size) > 0
            assert {"images_per_s", "flops_per_image", "peak_fraction", "full_idc_epoch_s"} <= figures.keys()
            assert figures["images_per_s"] > 0 and figures["flops_per_image"] > 0
        assert {"latency_ms_median", "latency_ms_p95", "batch_images_per_s"} <= result["inference"][name].keys()
    assert result["memory_mb"]["train_peak"] > 0 and result["memory_mb"]["cache_build_peak"] > 0


def test_flop_count_of_a_known_network() -> None:
    from bc_helpers.bench import forward_flops
    from bc_helpers.runtime import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.Reshape((8, 32))(x)
    x = keras.layers.LSTM(5)(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    conv = 2 * 8 * 8 * 9 * 3 * 4
    lstm = 2 * 8 * 4 * (32 + 5) * 5
    dense = 2 * 5 * 2
    assert forward_flops(model) == conv + lstm + dense


@pytest.mark.slow
def test_full_bench_tuning_rows_and_epoch_overhead_are_measured() -> None:
    from bc_helpers.bench import TUNING, epoch_overhead, tuning

    rows = tuning(steps=16, baseline=100.0, batch_size=8)
    assert rows.keys() == TUNING.keys()
    for label, row in rows.items():
        assert row["images_per_s"] > 0 and row["ratio_vs_default"] == row["images_per_s"] / 100.0
        assert row["changes_results"] == TUNING[label][1]
    overhead = epoch_overhead(epochs=1, images=64)
    assert overhead["fixed_prefetch_epoch_s"] > 0 and overhead["autotune_epoch_s"] > 0
