"""Runs: the settings that define a run, the tree of run folders and the files in each, and the grid search's
outcome kept beside them. Plain Python: read by evaluation without TensorFlow."""

from . import tuning
from .catalogue import CATALOGUE, MODEL_NAMES, MODEL_NOTEBOOKS, display_name
from .folders import (
    RunFolder,
    TrainConfig,
    arm_dir,
    find_runs,
    prepare_run_dir,
    run_path,
    same_config,
)
from .records import BinaryMetrics, MetricsRecord

__all__ = [
    "CATALOGUE", "MODEL_NAMES", "MODEL_NOTEBOOKS", "BinaryMetrics", "MetricsRecord", "RunFolder", "TrainConfig",
    "arm_dir", "display_name", "find_runs", "prepare_run_dir", "run_path", "same_config", "tuning",
]
