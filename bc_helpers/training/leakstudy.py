"""The workbook's leakage study: the CNN and the CNN-LSTM trained on a patient split and on an image split, each on
true labels and on random patient labels (the control), by patient-grouped cross-validation with every arm of a
fold scored on the same test images (training.crossval). `make run` runs it on each dataset and writes the rows
to leakage.json at the run's root (evaluation.leakage.crossval_leakage_rows builds them).

The design is small so that the whole workbook stays within its time on two cores; the real cohort's
measurements (docs/measurements/cohort_crossval.py) use the same engine with five folds.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..data.cache import load_images, storage_size
from ..data.datasets import index_dataset
from ..data.sources import resolve_data_dir
from ..evaluation.leakage import LEAK_MODELS, STUDY_FOLDER, arm_name, crossval_leakage_rows
from ..files import write_text_atomic
from .crossval import LABELS, REGIMES, Arm, Design, run_crossval

# Two folds (every patient tested once, half of them by each fold), one repeat, 5 epochs per arm: 16 trainings per
# dataset, about 2 and 5 minutes on two cores for the BreaKHis-like and the IDC-like sample.
STUDY_DESIGN = Design(folds=2, repeats=1, seed=0, epochs=5)


def leakage_arms(models: tuple[str, ...] = LEAK_MODELS) -> list[Arm]:
    """Every model under both regimes, on true and on random labels: eight arms for the two default models."""
    return [Arm(arm_name(model, labels, regime), model, regime, labels)
            for model in models for labels in LABELS for regime in REGIMES]


def run_leakage_study(dataset: str, out: str | Path, data_dir: str | Path | None = None,
                      design: Design = STUDY_DESIGN, models: tuple[str, ...] = LEAK_MODELS) -> Path:
    """Train the study's arms on `dataset` (resuming at the first missing table) and write its leakage.json rows to
    out/leakage/<dataset>.json; returns that file. evaluation.leakage.merge_leakage gathers every
    dataset's rows."""
    folder = Path(out) / STUDY_FOLDER / dataset
    index = index_dataset(dataset, resolve_data_dir(dataset, str(data_dir) if data_dir else None))
    images = load_images(index, storage_size(index, design.image_size), progress=False)
    units = run_crossval(index.table, images, leakage_arms(models), design, folder, log=False)
    rows = crossval_leakage_rows(units, dataset, models, design.folds)
    target = folder.with_suffix(".json")
    write_text_atomic(target, json.dumps(rows, indent=2) + "\n")
    return target

