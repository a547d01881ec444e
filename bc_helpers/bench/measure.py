"""`python -m bc_helpers bench`: how fast the workbook is, in figures and as ratios to references measured
in the same run (shared machines drift, ratios do not): the input pipeline against Keras's own loader,
training against this CPU's measured matrix-multiply peak, inference against the paper's 50 ms.

`bench --out FILE.json` writes every figure as JSON; `bench --render FILE.json` prints the markdown that the
README's "Speed" section holds, so each figure there comes from one committed file (docs/bench/)."""

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
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.registry import full_epoch_seconds
from ..errors import WorkbookError
from ..evaluation.paper import COST
from ..runs.catalogue import MODEL_NAMES
from .render import table

if TYPE_CHECKING:  # TensorFlow loads only when a measurement needs it
    from ..models.runtime import keras

PAPER_SIZE = 224
# Peak memory is read from VmHWM (this address space only): ru_maxrss would carry the parent's peak
# across fork and exec.
PEAK = "print(int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024)"
TRAIN_MEMORY_CHILD = """
import sys
from bc_helpers.runs.folders import TrainConfig
from bc_helpers.training.trainer import train
train(TrainConfig(model="cnn_lstm", epochs=1, balance="class_weight"), sys.argv[1], verbose=0)
""" + PEAK
CACHE_MEMORY_CHILD = """
import sys
from bc_helpers.data.cache import load_images
from bc_helpers.data.datasets import index_dataset
from bc_helpers.data.sources import resolve_data_dir
index = index_dataset(sys.argv[1], resolve_data_dir(sys.argv[1], sys.argv[2]), use_cache=False)
load_images(index, 50, progress=False)
""" + PEAK

BALANCE_CHILD = """
import json, sys, time
import numpy as np
from bc_helpers.data.balance import balance
n, side, negative_share = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
rng = np.random.default_rng(0)
images = np.empty((n, side, side, 3), dtype=np.uint8)
for start in range(0, n, 10_000):
    images[start:start + 10_000] = rng.integers(0, 256, images[start:start + 10_000].shape, dtype=np.uint8)
labels = (np.arange(n) >= round(n * negative_share)).astype(int)
status = lambda key: int(next(l for l in open('/proc/self/status') if l.startswith(key)).split()[1]) / 1024
open('/proc/self/clear_refs', 'w').write('5')  # the peak (VmHWM) restarts from here: input made
before = status('VmRSS')
start, cpu = time.perf_counter(), time.process_time()
out = balance(images, labels, 'smote_hybrid', seed=0)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({'seconds': seconds, 'cpu_seconds': cpu, 'input_mb': images.nbytes / 2**20,
                  'output_mb': out.images.nbytes / 2**20,
                  'peak_above_input_mb': status('VmHWM') - before, 'images_in': n,
                  'images_out': len(out.labels), 'report': out.report}))
"""


def machine() -> dict:
    """The CPU model, core count and the versions a run depends on."""
    from ..models.runtime import versions

    model = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    return {"cpu": model, "cores": os.cpu_count(), **versions()}


def matmul_gflops(n: int = 2048, seconds: float = 1.0, windows: int = 3) -> float:
    """This machine's sustained float32 matrix-multiply rate through TensorFlow: back-to-back n x n products
    for `seconds`, the best of `windows` (single timed calls understate it: thread wake-up dominates)."""
    from ..models.runtime import tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    step = tf.function(lambda x, y: tf.linalg.matmul(x, y))
    step(a, b).numpy()
    best = 0.0
    for _ in range(windows):
        start, calls = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            step(a, b).numpy()
            calls += 1
        best = max(best, 2 * n**3 * calls / (time.perf_counter() - start) / 1e9)
    return best


def forward_flops(model: keras.Model) -> float:
    """Multiply-adds x 2 of one image's forward pass, counted layer by layer (conv, dense, recurrent)."""
    from ..models.runtime import keras

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


def settings() -> dict:
    """How `train` runs here, so that bench measures the same thing: the workbook's batch size, no XLA, and on a
    GPU Keras's mixed precision (training.GPU_POLICY)."""
    from ..models.runtime import gpus
    from ..runs.folders import TrainConfig
    from ..training.trainer import GPU_POLICY

    return {"batch_size": TrainConfig().batch_size, "mixed_precision": GPU_POLICY if gpus() else None,
            "jit_compile": False}


def train_rate(name: str, image_size: int, steps: int, batch_size: int, augment: bool = True,
               jit_compile: bool = False, steps_per_execution: int = 1, keras_batch_norm: bool = False,
               policy: str | None = None) -> tuple[dict, keras.Model]:
    """Training images/s of one model through the workbook's own pipeline (uint8 cache, per-sample weights),
    on random images, timed after a warm-up; and the model. `policy`: a Keras mixed-precision policy."""
    from ..models.builders import build_model, loss_for, targets_for
    from ..models.pipeline import make_dataset
    from ..models.runtime import keras
    from ..training.trainer import precision_policy

    keras.backend.clear_session()
    with precision_policy(policy):
        model = build_model(name, image_size=image_size, augment=augment)
    if keras_batch_norm:
        model = _with_keras_batch_norm(model)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss_for(model), metrics=["accuracy"],
                  jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    rng = np.random.default_rng(0)
    count = batch_size * steps
    x = rng.integers(0, 256, (count, image_size, image_size, 3), dtype=np.uint8)
    y = targets_for(model, rng.integers(0, 2, count))
    ds = make_dataset(x, y, batch_size, shuffle=True, weights=np.ones(count, np.float32))
    model.fit(ds.take(2 * steps_per_execution), epochs=1, verbose=0, shuffle=False)
    start = time.perf_counter()
    model.fit(ds, epochs=1, verbose=0, shuffle=False)
    rate = count / (time.perf_counter() - start)
    flops = forward_flops(model) * 3  # backward pass ~ 2x forward
    return {"images_per_s": rate, "flops_per_image": flops, "full_idc_epoch_s": full_epoch_seconds(rate)}, model


def _with_keras_batch_norm(model: keras.Model) -> keras.Model:
    """The same model with Keras's own (unfused) BatchNormalization, to measure what the fused one saves."""
    from ..models.layers import FusedBatchNormalization
    from ..models.runtime import keras

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        kind = keras.layers.BatchNormalization if isinstance(layer, FusedBatchNormalization) else type(layer)
        return kind.from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone)


# Each change tried on the CNN-LSTM at 50 px, and whether it would change what training computes.
TUNING: dict[str, tuple[dict[str, Any], bool]] = {
    "keras_batch_norm": ({"keras_batch_norm": True}, False),
    "steps_per_execution_8": ({"steps_per_execution": 8}, False),
    "no_augmentation": ({"augment": False}, True),
    "batch_64": ({"batch_size": 64}, True),
    "batch_128": ({"batch_size": 128}, True),
    # Keras compiles nothing with XLA while RandomRotation/RandomZoom are in the model: compare with no_augmentation.
    "xla_no_augmentation": ({"jit_compile": True, "augment": False}, True),
    "mixed_bfloat16": ({"policy": "mixed_bfloat16"}, True),
}


def tuning(steps: int, baseline: float, batch_size: int) -> dict:
    """The CNN-LSTM's training rate under each change in TUNING, beside the default's."""
    result = {}
    for label, (change, changes_results) in TUNING.items():
        kwargs = {"batch_size": batch_size, **change}
        rate = train_rate("cnn_lstm", 50, steps * batch_size // kwargs["batch_size"], **kwargs)[0]["images_per_s"]
        result[label] = {"images_per_s": rate, "ratio_vs_default": rate / baseline, "changes_results": changes_results}
    return result


def epoch_overhead(epochs: int = 6, images: int = 1600) -> dict:
    """Seconds per short epoch (with validation) with the workbook's fixed prefetch and with tf.data's
    AUTOTUNE: with that, each new iterator waits for the autotune thread's next wake-up before it ends."""
    from ..models.builders import build_model, compile_model, targets_for
    from ..models.pipeline import PREFETCH_BATCHES, make_dataset
    from ..models.runtime import keras, tf

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (images, 50, 50, 3), dtype=np.uint8)
    result = {}
    for label, prefetch in (("fixed_prefetch", PREFETCH_BATCHES), ("autotune", tf.data.AUTOTUNE)):
        keras.backend.clear_session()
        model = compile_model(build_model("cnn_lstm"))
        y = targets_for(model, rng.integers(0, 2, images))
        ds = make_dataset(x, y, 32, shuffle=True, prefetch=prefetch)
        val = make_dataset(x, y[: images // 4], 32, rows=np.arange(images // 4), prefetch=prefetch)
        model.fit(ds.take(2), epochs=1, verbose=0, shuffle=False)
        start = time.perf_counter()
        model.fit(ds, validation_data=val, epochs=epochs, verbose=0, shuffle=False)
        result[f"{label}_epoch_s"] = (time.perf_counter() - start) / epochs
    return result


def inference(model: keras.Model, image_size: int, calls: int) -> dict:
    """Single-image latency (median, p95) and batch throughput of a compiled serving function."""
    from ..models.runtime import tf

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
    from ..data.cache import load_images
    from ..data.datasets import index_dataset
    from ..data.sources import resolve_data_dir
    from ..models.pipeline import make_dataset
    from ..models.runtime import keras

    index = index_dataset(dataset, resolve_data_dir(dataset, data_dir))
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


def balance_cost(images: int = 200_000, side: int = 50, negative_share: float = 0.716) -> dict:
    """Seconds (wall and CPU: a shared machine stretches the first) and peak memory above the input array of
    `smote_hybrid` on random uint8 images at IDC's class ratio, in a child process (its own peak): every
    training image kept, the output included in the peak."""
    import json

    out = subprocess.run([sys.executable, "-c", BALANCE_CHILD, str(images), str(side), str(negative_share)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child_peak_mb(code: str, *args: str, cache_dir: str | None = None) -> float:
    env = {**os.environ, **({"BC_CACHE_DIR": cache_dir} if cache_dir else {})}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def run_bench(quick: bool = False, dataset: str = "sample", data_dir: str | None = None,
              models: tuple[str, ...] = MODEL_NAMES) -> dict:
    """Every figure, as the JSON that `bench` writes. Quick: a few steps, 64 px in place of 224, no tuning.
    `models`: the models whose training and inference are measured (the CNN-LSTM always is: the input
    pipeline's rate is compared with its training rate)."""
    models = tuple(dict.fromkeys(("cnn_lstm", *models)))
    unknown = sorted(set(models) - set(MODEL_NAMES))
    if unknown:
        raise WorkbookError(f"bench --models: unknown {', '.join(unknown)}; choose from {', '.join(MODEL_NAMES)}")
    steps = 2 if quick else 100
    sizes = (50, 64) if quick else (50, PAPER_SIZE)
    run = settings()
    result: dict = {"machine": machine(), "quick": quick, "settings": run,
                    "matmul_gflops": matmul_gflops(seconds=0.5 if quick else 2.0, windows=1 if quick else 3)}
    result["input"] = input_rates(dataset, data_dir)
    result["training"], result["inference"] = {}, {}
    for name in models:
        result["training"][name] = {}
        for size in sizes:
            big = size > 64
            measured, model = train_rate(name, size, 1 if big and quick else (3 if big else steps),
                                         run["batch_size"], jit_compile=run["jit_compile"],
                                         policy=run["mixed_precision"])
            measured["peak_fraction"] = measured["images_per_s"] * measured["flops_per_image"] / (
                result["matmul_gflops"] * 1e9)
            result["training"][name][str(size)] = measured
            if size == 50:
                result["inference"][name] = inference(model, 50, 20 if quick else 200)
    hybrid = result["training"]["cnn_lstm"]["50"]["images_per_s"]
    result["input"]["ratio_vs_training"] = result["input"]["cache_images_per_s"] / hybrid
    if not quick:
        result["tuning"] = tuning(steps, hybrid, run["batch_size"]) | {"epoch_overhead": epoch_overhead()}
    with tempfile.TemporaryDirectory() as tmp:
        result["memory_mb"] = {
            "train_peak": _child_peak_mb(TRAIN_MEMORY_CHILD, str(Path(tmp) / "run")),
            "cache_build_peak": _child_peak_mb(CACHE_MEMORY_CHILD, dataset, str(data_dir or ""), cache_dir=tmp),
        }
    result["balance"] = balance_cost(20_000 if quick else 200_000)
    result["paper"] = {"cnn_lstm_epoch_s": COST["train_seconds_per_epoch"]["cnn_lstm"],
                       "inference_ms_per_image": COST["inference_ms_per_image"]}
    return result


def main(quick: bool, out: str | None, dataset: str, data_dir: str | None,
         models: tuple[str, ...] = MODEL_NAMES) -> dict:
    """Run every measurement, print the summary, and write the JSON to `out` if given."""
    result = run_bench(quick, dataset, data_dir, models)
    print(table(result))
    if out:
        from ..files import write_json_atomic

        write_json_atomic(out, result)
    return result
