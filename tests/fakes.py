"""The one fake run folder of the tests: what `train` writes that the readers of a run use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def write_run(folder: Path, y: np.ndarray, prob: np.ndarray, patients: np.ndarray, threshold: float = 0.5,
              paths: list[str] | None = None, metrics: dict | None = None, config: dict | None = None) -> Path:
    """A run folder as `train` writes it: predictions.csv (three validation rows before the test rows) and
    metrics.json holding `threshold` and `metrics`; config.json only when `config` is given (its "train")."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = paths or [f"img{i:04d}.png" for i in range(len(y))]
    test = pd.DataFrame({"path": paths, "patient": patients, "label": y, "part": "test", "probability": prob})
    val = test.head(3).assign(path=lambda f: "val_" + f["path"], part="val")
    frame = pd.concat([val, test]).assign(predicted=lambda f: (f["probability"] >= threshold).astype(int),
                                          review=False)
    frame.to_csv(folder / "predictions.csv", index=False)
    (folder / "metrics.json").write_text(json.dumps({**(metrics or {}), "threshold": threshold}))
    if config is not None:
        (folder / "config.json").write_text(json.dumps({"train": config}))
    return folder
