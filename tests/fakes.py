"""The one fake run folder of the tests: what `train` writes that the readers of a run use."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bc_helpers.evaluation.decisions import coverage_table
from bc_helpers.evaluation.metrics import binary_metrics, evaluation_report
from bc_helpers.runs.records import BinaryMetrics, MetricsRecord, Timing


def metrics_record(folder: Path, y: np.ndarray, prob: np.ndarray, patients: np.ndarray, threshold: float,
                   **fields: Any) -> MetricsRecord:
    """metrics.json's record of these test predictions, as evaluate_run makes it (validation: the first three
    test rows), for a one-epoch `cnn` run on the sample's patient split; `fields` replace any of its fields."""
    report = evaluation_report(y, prob, patients, threshold)
    test = BinaryMetrics.from_json(binary_metrics(y, prob, threshold), "test")
    record = MetricsRecord(
        **test.__dict__, n_patients=report["n_patients"],
        ci={name: (lo, hi) for name, (lo, hi) in report["ci"].items()}, bootstrap=report["bootstrap"],
        patient_level=report["patient_level"], model="cnn", dataset="sample", protocol="patient",
        run_dir=str(folder), balance="smote_hybrid", image_size=50, threshold_method="fixed", threshold_rule="fixed",
        threshold_note="fixed", synthetic=True,
        val=BinaryMetrics.from_json(binary_metrics(y[:3], prob[:3], threshold), "val"),
        review=coverage_table(y, prob, threshold, (0.1,)).iloc[0].to_dict(),
        leak={"test_images_with_patient_in_train": 0.0}, epochs_run=1, best_epoch=1,
        timing=Timing(train_seconds=1.0, seconds_per_epoch=1.0, train_images=len(y), inference_ms_per_image=1.0))
    return replace(record, **fields)


def write_run(folder: Path, y: np.ndarray, prob: np.ndarray, patients: np.ndarray, threshold: float = 0.5,
              paths: list[str] | None = None, fields: dict[str, Any] | None = None,
              config: dict | None = None) -> Path:
    """A run folder as `train` writes it: predictions.csv (three validation rows before the test rows) and
    metrics.json (metrics_record, with `fields` replaced); config.json only when `config` is given (its "train")."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = paths or [f"img{i:04d}.png" for i in range(len(y))]
    test = pd.DataFrame({"path": paths, "patient": patients, "label": y, "part": "test", "probability": prob})
    val = test.head(3).assign(path=lambda f: "val_" + f["path"], part="val")
    frame = pd.concat([val, test]).assign(predicted=lambda f: (f["probability"] >= threshold).astype(int),
                                          review=False)
    frame.to_csv(folder / "predictions.csv", index=False)
    record = metrics_record(folder, np.asarray(y), np.asarray(prob), np.asarray(patients), threshold, **(fields or {}))
    (folder / "metrics.json").write_text(json.dumps(record.to_json()))
    if config is not None:
        (folder / "config.json").write_text(json.dumps({"train": config}))
    return folder
