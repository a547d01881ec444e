"""Using a saved model: load it safely, evaluate it on a whole dataset, predict files and folders."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.cache import fit_image, load_images, storage_size
from ..data.datasets import index_dataset
from ..data.images import IMAGE_SUFFIXES, ImageProblem, inspect_image, load_rgb
from ..data.layouts import IDC_PATCH
from ..data.sources import resolve_data_dir
from ..errors import WorkbookError
from ..evaluation.decisions import review_flags
from ..evaluation.metrics import evaluation_report
from ..models.builders import positive_probability
from ..models.pipeline import make_dataset
from ..models.runtime import keras, quiet_retracing
from ..runs.folders import RunFolder


def predict_probabilities(model: keras.Model, images: np.ndarray, rows: np.ndarray | None = None,
                          batch_size: int = 256) -> np.ndarray:
    """P(positive) for images[rows] (default: every image), through the same pipeline as training."""
    rows = np.arange(len(images)) if rows is None else rows
    ds = make_dataset(images, np.zeros(len(rows), np.float32), batch_size, rows=rows)
    with quiet_retracing():
        return positive_probability(model.predict(ds, verbose=0))


def load_model(path: str | Path) -> keras.Model:
    """Load a .keras file with Keras safe mode; a missing or foreign file gives a clear error."""
    path = Path(path)
    if not path.is_file():
        raise WorkbookError(f"no model file at {path}: train one with `python -m bc_helpers train ... --out RUN_DIR`")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise WorkbookError(f"{path} is not a Keras model file (.keras, as saved by `train`)")
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a damaged archive
        raise WorkbookError(f"{path} could not be loaded as a Keras model: {exc}") from exc


def run_settings(model_path: Path, model: keras.Model) -> dict:
    """Threshold, review band (its share, and the validation probabilities that fix its edges), storage size and
    layout from the run folder beside the model. Without one: threshold 0.5, and the model's input size; a model
    working at IDC's native patch size is taken for an IDC model."""
    run = RunFolder(model_path.parent)
    settings: dict[str, Any] = {"threshold": 0.5, "review_width": 0.1, "review_reference": None, "storage_size": None,
                "layout": None}
    if run.is_finished():
        settings["threshold"] = run.read_record().threshold
    if run.predictions.exists():  # the band's edges come from the validation images, so even one image is judged
        settings["review_reference"] = run.read_predictions("val")["probability"].to_numpy()
    config = run.read_config()
    if config is not None:
        settings.update(review_width=config["train"]["review_width"], storage_size=config["storage_size"],
                        layout=config["layout"])
    if settings["storage_size"] is None:
        settings["storage_size"] = int(model.get_layer("preprocessing").layers[0].height)
    if settings["layout"] is None:
        settings["layout"] = "idc" if settings["storage_size"] == IDC_PATCH else "unknown"
    return settings


def evaluate(model_path: str | Path, dataset: str, data_dir: str | Path | None, seed: int = 0) -> dict:
    """Every image of the dataset is test data; the threshold is the one the run chose on validation."""
    model_path = Path(model_path)
    model = load_model(model_path)
    settings = run_settings(model_path, model)
    index = index_dataset(dataset, resolve_data_dir(dataset, data_dir))
    image_size = int(model.get_layer("preprocessing").layers[0].height)
    images = load_images(index, storage_size(index, image_size))
    y = index.table["label"].to_numpy()
    g = index.table["patient"].astype(str).to_numpy()
    p = predict_probabilities(model, images)
    t = settings["threshold"]
    return evaluation_report(y, p, g, t, seed) | {
        "model": str(model_path), "dataset": dataset, "data_dir": str(index.root),
        "skipped": len(index.skipped),
    }


def _image_files(paths: list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(f for f in path.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        elif path.exists():
            files.append(path)
        else:
            raise WorkbookError(f"no such file or folder: {path}")
    return files


def predict(model_path: str | Path, paths: list[str | Path], batch_size: int = 256) -> tuple[pd.DataFrame, list]:
    """A row per readable image (path, probability, predicted label, review flag), and the skipped files."""
    model_path = Path(model_path)
    model = load_model(model_path)
    s = settings = run_settings(model_path, model)
    size = settings["storage_size"]
    kept, arrays, skipped = [], [], []
    for file in _image_files(paths):
        try:
            inspect_image(file)
        except ImageProblem as exc:
            skipped.append({"path": str(file), "reason": str(exc)})
            continue
        arrays.append(fit_image(load_rgb(file), size, s["layout"]))
        kept.append(str(file))
    if not arrays:
        return pd.DataFrame(columns=["path", "probability", "predicted", "review"]), skipped
    prob = predict_probabilities(model, np.stack(arrays), batch_size=batch_size)
    frame = pd.DataFrame({"path": kept, "probability": prob,
                          "predicted": (prob >= s["threshold"]).astype(int),
                          "review": review_flags(prob, s["threshold"], s["review_width"], s["review_reference"])})
    return frame, skipped
