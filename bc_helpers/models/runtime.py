"""TensorFlow set-up in one place: quiet logs, the Keras backend, devices, seeds and versions.

Importing this module imports TensorFlow and Keras. Two environment variables are set first, with `setdefault`
(a value the user set wins): `TF_CPP_MIN_LOG_LEVEL=2` hides TensorFlow's C++ start-up info lines, and
`KERAS_BACKEND=tensorflow` makes Keras use the backend this package is written for. Both are read once, when
TensorFlow and Keras are first imported, so they must be set before that import and cannot be scoped to a call;
they change no state of a library already imported. Everything else that is process-wide (the mixed-precision
policy, TensorFlow's Python log level) is changed only inside a call and restored: see `tf_log_level` here and
`training.precision_policy`.
"""

from __future__ import annotations

import logging
import os
import platform
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

try:
    import tensorflow as tf
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "TensorFlow is not installed: run `pip install -e '.[cpu]'` (or '.[gpu]' on a GPU machine); "
        "on Colab it is already there."
    ) from exc
import keras


@contextmanager
def tf_log_level(level: int | str) -> Iterator[None]:
    """TensorFlow's Python logger at `level` inside the block (or the decorated function), restored after."""
    logger = tf.get_logger()
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


RETRACING = "triggered tf.function retracing"  # TensorFlow's warning when many models' predict steps are traced


class _DropRetracing(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return RETRACING not in record.getMessage()


@contextmanager
def quiet_retracing() -> Iterator[None]:
    """Drop TensorFlow's retracing warning, and only it, inside the block.

    A kernel that trains and predicts with several models (VGG-16's stages, a search then a final run, a figure that
    predicts row by row) builds each model's predict step anew, and after a few TensorFlow warns that the step
    "triggered tf.function retracing". Nothing is wrong: a new model or input shape needs its own trace. Every other
    message gets through."""
    logger = logging.getLogger("tensorflow")
    drop = _DropRetracing()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def gpus() -> list[str]:
    """The physical GPUs TensorFlow sees (names); empty on a CPU-only machine."""
    return [d.name for d in tf.config.list_physical_devices("GPU")]


def device_summary() -> str:
    """One line: the GPUs, or the CPU's core count."""
    found = gpus()
    return f"GPU: {', '.join(found)}" if found else f"CPU only ({os.cpu_count()} cores)"


def split_cpu(n: int) -> None:
    """Present the CPU as `n` logical devices (before TensorFlow first uses it), to try tf.distribute here."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and TensorFlow; `deterministic` also turns on TensorFlow's op determinism.

    A run draws what it would draw after `keras.utils.set_random_seed` (the shuffles, the initial weights, the
    dropout masks: tests/test_modelpool.py), but TensorFlow's compiled functions are kept (`seed_tensorflow`)."""
    seed_build(seed)
    seed_tensorflow(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def seed_build(seed: int) -> None:
    """Seed what building a model draws from: Python's and NumPy's generators (Keras's initializers and its layers'
    seed generators take their seeds from Python's). TensorFlow's global seed is left as it is."""
    random.seed(seed)
    np.random.seed(seed)


def seed_tensorflow(seed: int) -> None:
    """Set TensorFlow's global seed, which tf.data's shuffles combine with their own, and restart the sequence of
    operation seeds drawn from it, as `tf.random.set_seed` does, but keep the compiled functions' cache.

    `tf.random.set_seed` also empties that cache, to restart the counters of stateful random kernels; the workbook
    has none (Keras's layers draw stateless numbers from their own seed variables, and every shuffle has its own
    seed), but a model trained earlier in the process would have its steps optimised again on its next fit
    (docs/measurements/first-step.md). The seed and the sequence live in two attributes of TensorFlow's
    eager context; where a TensorFlow lacks them, this falls back on `tf.random.set_seed`."""
    from tensorflow.python.eager import context

    eager = context.context()
    if not (hasattr(eager, "_seed") and hasattr(eager, "_rng")):
        tf.random.set_seed(seed)
        return
    eager._seed = seed
    eager._rng = random.Random(seed)


def versions() -> dict[str, str]:
    """Versions of what a run depends on, saved with every run."""
    import imblearn
    import numpy
    import pandas
    import sklearn

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "scikit-learn": sklearn.__version__,
        "imbalanced-learn": imblearn.__version__,
        "device": device_summary(),
    }
