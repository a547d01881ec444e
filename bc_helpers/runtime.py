"""TensorFlow set-up in one place: quiet logs, the Keras backend, devices, seeds and versions."""

from __future__ import annotations

import os
import platform
import sys

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


def gpus() -> list[str]:
    return [d.name for d in tf.config.list_physical_devices("GPU")]


def device_summary() -> str:
    found = gpus()
    return f"GPU: {', '.join(found)}" if found else f"CPU only ({os.cpu_count()} cores)"


def split_cpu(n: int) -> None:
    """Present the CPU as `n` logical devices (before TensorFlow first uses it), to try tf.distribute here."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and TensorFlow; `deterministic` also turns on TensorFlow's op determinism."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


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
