"""`bench --quick` runs on a clean machine and writes every field of its JSON contract (no timing asserts);
its figures agree with each other; the README's speed figures are the rendering of the committed bench file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bc_helpers.bench import render
from bc_helpers.runs.catalogue import MODEL_NAMES

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_quick_writes_valid_json_with_every_field(tmp_path: Path, tiny_sample: Path) -> None:
    """Three of the six models (the other three are the same code path, and ResNet-50 alone takes minutes to
    trace twice on 2 cores): the CNN-LSTM, always measured, the small CNN and VGG-16, the largest."""
    out = tmp_path / "bench.json"
    models = ("cnn_lstm", "cnn", "vgg16")
    done = subprocess.run([sys.executable, "-m", "bc_helpers", "bench", "--quick", "--dataset", "sample",
                           "--data-dir", str(tiny_sample / "idc"), "--models", "cnn,vgg16", "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "matmul peak" in done.stdout and "cnn_lstm" in done.stdout
    result = json.loads(out.read_text())
    assert result["matmul_gflops"] > 0
    assert {"cpu", "cores", "tensorflow"} <= result["machine"].keys()
    assert result["settings"]["batch_size"] > 0 and "tuning" not in result  # tuning is for the full run
    assert {"cache_images_per_s", "keras_loader_images_per_s", "ratio_vs_keras_loader",
            "ratio_vs_training"} <= result["input"].keys()
    assert set(result["training"]) == set(result["inference"]) == set(models)
    for name in models:
        for size, figures in result["training"][name].items():
            assert int(size) > 0
            assert {"images_per_s", "flops_per_image", "peak_fraction", "full_idc_epoch_s"} <= figures.keys()
            assert figures["images_per_s"] > 0 and figures["flops_per_image"] > 0
        assert {"latency_ms_median", "latency_ms_p95", "batch_images_per_s"} <= result["inference"][name].keys()
    assert result["memory_mb"]["train_peak"] > 0 and result["memory_mb"]["cache_build_peak"] > 0
    assert result["settings"]["jit_compile"] is False  # as `train`, which compiles without XLA
    # The operation counts agree with the architectures: a larger image costs more operations, and VGG-16 costs
    # more per image than the small CNN.
    at_50 = {name: result["training"][name]["50"] for name in models}
    for name in models:
        sizes = sorted(result["training"][name], key=int)
        flops = [result["training"][name][size]["flops_per_image"] for size in sizes]
        assert flops == sorted(flops) and flops[0] < flops[-1], name
    assert at_50["vgg16"]["flops_per_image"] > 10 * at_50["cnn"]["flops_per_image"]
    b = result["balance"]
    assert b["report"]["dropped"] == 0 and b["images_out"] == b["report"]["undersampled_to"] + b["report"]["synthetic"]
    assert f"{b['report']['synthetic']:,} synthetic ones added, 0 dropped for memory" in render(result, "b.json")


def test_flop_count_of_a_known_network() -> None:
    from bc_helpers.bench.measure import forward_flops
    from bc_helpers.models.runtime import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.Reshape((8, 32))(x)
    x = keras.layers.LSTM(5)(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    # Counted by hand, 2 flops per multiply-add: the convolution makes 8x8 outputs x 4 filters, each 3x3x3 = 27
    # multiply-adds (6,912); the LSTM runs 8 steps of 4 gates over 32 inputs + 5 recurrent units into 5 units
    # (5,920); the dense layer 5 x 2 (10).
    assert forward_flops(model) == 2 * (6_912 + 5_920 + 10)


@pytest.mark.slow
def test_full_bench_tuning_rows_and_epoch_overhead_are_measured() -> None:
    from bc_helpers.bench.measure import TUNING, epoch_overhead, train_rate, tuning

    default = train_rate("cnn_lstm", 50, 16, 8)[0]["images_per_s"]
    rows = tuning(steps=16, baseline=default, batch_size=8)
    assert rows.keys() == TUNING.keys()
    for label, row in rows.items():
        assert row["images_per_s"] > 0 and 0.05 < row["ratio_vs_default"] < 20, label  # beside the default
        assert row["changes_results"] == TUNING[label][1]
    overhead = epoch_overhead(epochs=1, images=64)
    assert overhead["fixed_prefetch_epoch_s"] > 0 and overhead["autotune_epoch_s"] > 0


def test_readme_speed_figures_are_the_rendering_of_the_committed_bench_file() -> None:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"<!-- bench:begin (\S+) -->\n(.*?)<!-- bench:end -->", readme, re.DOTALL)
    assert block, "README.md has no <!-- bench:begin FILE --> ... <!-- bench:end --> block"
    source, shown = block[1], block[2]
    assert shown == render(json.loads((REPO / source).read_text()), source)


def test_durations_are_written_in_the_readme_units() -> None:
    from bc_helpers.bench.render import duration

    assert [duration(s) for s in (42, 390, 7080, 122_400)] == ["42 s", "6.5 min", "118 min", "34 h"]


def test_an_unknown_model_is_refused_before_anything_is_measured(capsys: pytest.CaptureFixture[str]) -> None:
    from bc_helpers.cli import main

    assert main(["bench", "--quick", "--models", "cnn,alexnet"]) == 2
    err = capsys.readouterr().err
    assert "alexnet" in err and all(name in err for name in MODEL_NAMES)
