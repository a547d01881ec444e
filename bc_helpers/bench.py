"""`python -m bc_helpers bench`: how fast the workbook is, in figures and as ratios to references measured
in the same run (shared machines drift, ratios do not): the input pipeline against Keras's own loader,
training against this CPU's measured matrix-multiply peak, inference against the paper's 50 ms."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import paths
from .paper import COST, IDC_IMAGES

PAPER_SIZE = 224
# Peak memory is read from VmHWM (this address space only): ru_maxrss would carry the parent's peak
# across fork and exec.
PEAK = "print(int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024)"
TRAIN_MEMORY_CHILD = """
import sys
from bc_helpers.runs import TrainConfig
from bc_helpers.training import train
train(TrainConfig(model="cnn_lstm", epochs=1, balance="class_weight"), sys.argv[1], verbose=0)
""" + PEAK
CACHE_MEMORY_CHILD = """
import sys
from bc_helpers.cache import load_images
from bc_helpers.datasets import index_dataset
index = index_dataset(sys.argv[1], sys.argv[2] or None, use_cache=False)
load_images(index, 50, progress=False)
""" + PEAK


def machine() -> dict:
    from .runtime import versions

    model = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    return {"cpu": model, "cores": os.cpu_count(), **versions()}


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """This machine's float32 matrix-multiply rate through TensorFlow (the best of `repeats`)."""
    from .runtime import tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    step = tf.function(lambda x, y: tf.linalg.matmul(x, y))
    step(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def forward_flops(model: object) -> float:
    """Multiply-adds x 2 of one image's forward pass, counted layer by layer (conv, dense, recurrent)."""
    from .runtime import keras

    total = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += forward_flops(layer)
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            k = int(np.prod(layer.kernel_size))
            total += 2 * h * w * k * layer.input.shape[-1] * c_out
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
        elif isinstance(layer, keras.layers.LSTM | keras.layers.GRU):
            gates = 4 if isinstance(layer, keras.layers.LSTM) else 3
            steps, features = layer.input.shape[1], layer.input.shape[2]
            total += 2 * steps * gates * (features + layer.units) * layer.units
    return float(total)


def train_rate(name: str, image_size: int, steps: int, batch_size: int = 64) -> tuple[dict, object]:
    """Training images/s of one model on random uint8 images, timed after a warm-up step; and the model."""
    from .models import build_model, compile_model, targets_for
    from .runtime import keras

    keras.backend.clear_session()
    model = compile_model(build_model(name, image_size=image_size))
    rng = np.random.default_rng(0)
    size = max(image_size, 50)
    x = rng.integers(0, 256, (batch_size * steps, size, size, 3), dtype=np.uint8)
    y = targets_for(model, rng.integers(0, 2, batch_size * steps))
    model.fit(x[:batch_size], y[:batch_size], batch_size=batch_size, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
    rate = len(x) / (time.perf_counter() - start)
    flops = forward_flops(model) * 3  # backward pass ~ 2x forward
    return {"images_per_s": rate, "flops_per_image": flops, "full_idc_epoch_s": IDC_IMAGES / rate}, model


def inference(model: object, image_size: int, calls: int) -> dict:
    """Single-image latency (median, p95) and batch throughput of a compiled serving function."""
    from .runtime import tf

    serve = tf.function(lambda x: model(x, training=False))
    one = tf.constant(np.zeros((1, image_size, image_size, 3), np.uint8))
    batch = tf.constant(np.zeros((256, image_size, image_size, 3), np.uint8))
    serve(one).numpy()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        serve(one).numpy()
        times.append((time.perf_counter() - start) * 1000)
    serve(batch).numpy()
    start = time.perf_counter()
    for _ in range(3):
        serve(batch).numpy()
    return {"latency_ms_median": float(np.median(times)), "latency_ms_p95": float(np.percentile(times, 95)),
            "batch_images_per_s": 3 * 256 / (time.perf_counter() - start)}


@contextmanager
def _cache_in(folder: str) -> Iterator[None]:
    """A first build into an empty cache folder, whatever the user's cache holds."""
    old = os.environ.get("BC_CACHE_DIR")
    os.environ["BC_CACHE_DIR"] = folder
    try:
        yield
    finally:
        if old is None:
            del os.environ["BC_CACHE_DIR"]
        else:
            os.environ["BC_CACHE_DIR"] = old


def input_rates(dataset: str, data_dir: str | None) -> dict:
    """The cache's first build (PNG decoding per core), its tf.data rate, and Keras's directory loader."""
    from .cache import load_images
    from .datasets import index_dataset
    from .pipeline import make_dataset
    from .runtime import keras

    index = index_dataset(dataset, data_dir)
    with tempfile.TemporaryDirectory() as tmp, _cache_in(tmp):
        start = time.perf_counter()
        images = load_images(index, 50, progress=False)
        build_rate = len(images) / (time.perf_counter() - start)
        labels = index.table["label"].to_numpy().astype("float32")
        ds = make_dataset(images, labels, 256, shuffle=True)
        for _ in ds.take(1):
            pass
        start = time.perf_counter()
        count = sum(int(x.shape[0]) for x, _ in ds)
        cache_rate = count / (time.perf_counter() - start)
    keras_ds = keras.utils.image_dataset_from_directory(index.root, labels=None, image_size=(50, 50),
                                                        batch_size=256, shuffle=True, verbose=False)
    start = time.perf_counter()
    count = sum(int(x.shape[0]) for x in keras_ds)
    keras_rate = count / (time.perf_counter() - start)
    return {"images": len(images), "cache_build_images_per_s_per_core": build_rate / (os.cpu_count() or 1),
            "cache_images_per_s": cache_rate, "keras_loader_images_per_s": keras_rate,
            "ratio_vs_keras_loader": cache_rate / keras_rate}


def _child_peak_mb(code: str, *args: str, cache_dir: str | None = None) -> float:
    env = {**os.environ, **({"BC_CACHE_DIR": cache_dir} if cache_dir else {})}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def run_bench(quick: bool = False, dataset: str = "sample", data_dir: str | None = None) -> dict:
    """Every figure, as the JSON that `bench` writes."""
    from .models import MODEL_NAMES

    steps = 2 if quick else 20
    sizes = (50, 64) if quick else (50, PAPER_SIZE)
    result: dict = {"machine": machine(), "quick": quick,
                    "matmul_gflops": matmul_gflops(1024 if quick else 2048, 3 if quick else 10)}
    result["input"] = input_rates(dataset, data_dir)
    result["training"], result["inference"] = {}, {}
    for name in MODEL_NAMES:
        result["training"][name] = {}
        for size in sizes:
            big = size > 64
            measured, model = train_rate(name, size, 1 if big and quick else (3 if big else steps))
            measured["peak_fraction"] = measured["images_per_s"] * measured["flops_per_image"] / (
                result["matmul_gflops"] * 1e9)
            result["training"][name][str(size)] = measured
            if size == 50:
                result["inference"][name] = inference(model, 50, 20 if quick else 200)
    hybrid = result["training"]["cnn_lstm"]["50"]["images_per_s"]
    result["input"]["ratio_vs_training"] = result["input"]["cache_images_per_s"] / hybrid
    with tempfile.TemporaryDirectory() as tmp:
        real = paths.shared_data_dir() / "idc_sample"
        result["memory_mb"] = {
            "train_peak": _child_peak_mb(TRAIN_MEMORY_CHILD, str(Path(tmp) / "run")),
            "cache_build_peak": _child_peak_mb(CACHE_MEMORY_CHILD, *(("idc", str(real)) if real.is_dir()
                                                                   else ("sample", "")), cache_dir=tmp),
        }
    result["paper"] = {"cnn_lstm_epoch_s": COST["train_seconds_per_epoch"]["cnn_lstm"],
                       "inference_ms_per_image": COST["inference_ms_per_image"]}
    return result


def table(result: dict) -> str:
    """The printed summary."""
    lines = [f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, "
             f"TensorFlow {result['machine']['tensorflow']}; matmul peak {result['matmul_gflops']:.0f} GFLOP/s"]
    i = result["input"]
    lines.append(f"input: cache {i['cache_images_per_s']:,.0f} img/s = {i['ratio_vs_keras_loader']:.1f}x Keras's "
                 f"loader ({i['keras_loader_images_per_s']:,.0f} img/s), {i['ratio_vs_training']:.0f}x CNN-LSTM "
                 f"training; first build {i['cache_build_images_per_s_per_core']:,.0f} img/s per core")
    lines.append(f"{'model':<10}{'size':>6}{'img/s':>10}{'GFLOP/img':>11}{'of peak':>9}{'IDC epoch':>11}"
                 f"{'lat ms':>8}{'p95':>7}")
    for name, per_size in result["training"].items():
        for size, t in per_size.items():
            inf = result["inference"][name] if size == "50" else None
            lat = f"{inf['latency_ms_median']:8.2f}{inf['latency_ms_p95']:7.2f}" if inf else ""
            lines.append(f"{name:<10}{size:>6}{t['images_per_s']:>10,.0f}{t['flops_per_image'] / 1e9:>11.3f}"
                         f"{t['peak_fraction']:>9.0%}{t['full_idc_epoch_s'] / 60:>9.1f} m{lat}")
    m = result["memory_mb"]
    lines.append(f"memory: training peak {m['train_peak']:,.0f} MB, cache build peak {m['cache_build_peak']:,.0f} MB")
    lines.append(f"paper: {result['paper']['cnn_lstm_epoch_s'] / 3600:.0f} h per CNN-LSTM epoch (GPU), "
                 f"{result['paper']['inference_ms_per_image']:.0f} ms per image")
    return "\n".join(lines)


def main(quick: bool, out: str | None, dataset: str, data_dir: str | None) -> dict:
    result = run_bench(quick, dataset, data_dir)
    print(table(result))
    if out:
        from .files import write_json_atomic

        write_json_atomic(out, result)
    return result

