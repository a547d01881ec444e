"""The stain fingerprint: a control for the leakage study that can only recognise patients.

Each image is reduced to the colour of its bright tissue, the 75th and 95th percentiles of each RGB channel:
stroma and fat, which a slide's staining and scanning colour, and which nuclei (the dark pixels, a few tens of
percent of a patch) rarely reach. A k-nearest-neighbour classifier (scikit-learn) then votes with the labels of
the k training images whose colour is closest. It knows nothing about cancer; what it can do is find images of the
same slide. Under an image-level split those are in training, with their patient's labels, so it scores high;
under the patient split they are not, and it falls towards chance. The gap between the two is what an image-level
split rewards a model for recognising patients by the colour of their slides: the yardstick that the CNNs' own gap
is read against (a model that learns more of a slide than its colour could take more).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ..data.splits import split_frame
from ..errors import WorkbookError
from ..runs.folders import CONTROL_MODEL, RunFolder, TrainConfig, arm_dir, prepare_run_dir, same_config

PERCENTILES = (75, 95)
NEIGHBOURS = 15
MODEL = CONTROL_MODEL
CHUNK = 2048  # images per block when computing the percentiles (bounds the float copy numpy makes)


def stain_fingerprint(images: np.ndarray, percentiles: tuple[int, ...] = PERCENTILES) -> np.ndarray:
    """(N, 3 * len(percentiles)) float32: each image's per-channel percentiles of its pixel values."""
    out = np.empty((len(images), 3 * len(percentiles)), np.float32)
    for start in range(0, len(images), CHUNK):
        block = np.asarray(images[start:start + CHUNK]).reshape(-1, images.shape[1] * images.shape[2], 3)
        values = np.percentile(block, percentiles, axis=1)  # (len(percentiles), n, 3)
        out[start:start + CHUNK] = values.transpose(1, 0, 2).reshape(len(block), -1)
    return out


def fingerprint_config(config: TrainConfig) -> TrainConfig:
    """The control's settings for a training config: the same data, split and seed; no balancing, no epochs."""
    return replace(config, model=MODEL, balance="none", epochs=0, augment=False, stain="none",
                   max_train_images=None, hparams={"percentiles": list(PERCENTILES), "neighbours": NEIGHBOURS})


def classifier(neighbours: int = NEIGHBOURS) -> Pipeline:
    """Standardise the fingerprint, then vote among the nearest training images."""
    return make_pipeline(StandardScaler(), KNeighborsClassifier(neighbours))


def run_fingerprint(config: TrainConfig, run_dir: str | Path) -> dict:
    """Fit the control on `config`'s training part and evaluate it as every run is evaluated (threshold on
    validation, test once), into `run_dir`; a finished run of the same settings there is reused, any other run
    is never overwritten (this one goes beside it). Returns its metrics.json content."""
    from .trainer import config_record, evaluate_run, load_data

    config = fingerprint_config(config)
    run = RunFolder(prepare_run_dir(run_dir, config, "reuse" if same_config(run_dir, config) else "rename"))
    if run.is_finished():
        return run.read_metrics()
    index, images, parts = load_data(config)
    run.write_split(split_frame(index.table, parts))
    run.write_config(config_record(config, run, index, images))
    start = time.perf_counter()
    features = stain_fingerprint(images)
    labels = index.table["label"].to_numpy()
    train_rows = np.flatnonzero(parts == "train")
    if len(np.unique(labels[train_rows])) < 2:
        raise WorkbookError(f"{config.dataset}: the training part of seed {config.seed} holds one class only, so "
                            "the stain fingerprint has nothing to tell apart; use a larger dataset or another seed.")
    knn = classifier(config.hparams["neighbours"]).fit(features[train_rows], labels[train_rows])
    return evaluate_run(lambda rows: knn.predict_proba(features[rows])[:, 1], run, config, index, parts,
                        time.perf_counter() - start, len(train_rows), float(np.mean(labels[train_rows])))


def run_fingerprints(config: TrainConfig, root: str | Path, seeds: list[int]) -> list[dict]:
    """The control for each seed (its split follows the seed), beside 08's ablation arms of that seed:
    <root>/<dataset>/<protocol>/ablation/seed-<k>/stain_fingerprint. Returns each run's metrics."""
    configs = [fingerprint_config(replace(config, seed=s)) for s in seeds]
    return [run_fingerprint(c, arm_dir(root, c)) for c in configs]
