"""The leak against density: how much an image split rewards recognising patients, as the number of patches per
patient grows. On ../shared/data/idc_sample (14 patients, about 500 patches each), every patient is subsampled to
DENSITIES patches (seeded, stratified by label within the patient), and at each density the CNN is trained by
patient-grouped cross-validation under four arms on the same test images:
- random labels (every patient one label), patient regime and image regime: the image regime's ROC-AUC above 0.5
  is patient recognition;
- true labels, patient and image regime: the image - patient difference is the leak's inflation.
14 patients cannot carry a verdict about a method: this is a curve of a mechanism, with patient intervals.

    nice -n 5 .venv/bin/python docs/measurements/leak_density.py [RUN_DIR] [--summarise]
writes docs/measurements/leak-density.json (resumable: the out-of-fold tables live in RUN_DIR/<density>/).
"""

import json
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "idc_sample"
DENSITIES = (25, 100, 400)
FOLDS, REPEATS, EPOCHS = 3, 2, 5
ARMS = (("cnn_random_patient", "patient", "random"), ("cnn_random_image", "image", "random"),
        ("cnn_patient", "patient", "true"), ("cnn_image", "image", "true"))


def subsample(table: pd.DataFrame, per_patient: int, seed: int = 0) -> np.ndarray:
    """Row numbers keeping at most `per_patient` patches of each patient, its label shares kept."""
    rng = np.random.default_rng(seed)
    keep = []
    for _, rows in table.groupby("patient").groups.items():
        rows = np.asarray(rows)
        if len(rows) <= per_patient:
            keep.append(rows)
            continue
        keep.append(np.sort(rng.choice(rows, per_patient, replace=False)))
    return np.sort(np.concatenate(keep))


def measure(runs: Path) -> None:
    from bc_helpers.data.cache import load_images, storage_size
    from bc_helpers.data.datasets import index_dataset
    from bc_helpers.training.crossval import Arm, Design, run_crossval

    index = index_dataset("idc", DATA)
    images = load_images(index, storage_size(index, 50))
    design = Design(folds=FOLDS, repeats=REPEATS, epochs=EPOCHS)
    arms = [Arm(name, "cnn", regime, labels) for name, regime, labels in ARMS]
    for density in DENSITIES:
        rows = subsample(index.table, density)
        table = index.table.iloc[rows].reset_index(drop=True)
        run_crossval(table, np.asarray(images[rows]), arms, design, runs / str(density))


def summarise(runs: Path) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    import cohort_summary as cs

    cs.FOLDS, cs.N_PATIENTS = FOLDS, 14
    rng = np.random.default_rng(0)
    out = {}
    for density in DENSITIES:
        if not (runs / str(density) / "units").is_dir():
            continue
        frame = cs.read_units(runs / str(density))
        result = cs.compare(frame, [a for a, _, _ in ARMS], [("cnn_random_patient", "cnn_random_image"),
                                                             ("cnn_patient", "cnn_image")], rng)
        tested = frame[(frame["arm"] == "cnn_patient") & (frame["repeat"] == 0)]  # every image, once
        result["patches_per_patient"] = float(tested.groupby("patient").size().mean())
        out[str(density)] = result
    return out


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    runs = Path(args[0] if args else ROOT / "runs" / "leak-density")
    if "--summarise" not in sys.argv:
        measure(runs)
    payload = {
        "what": "the leak against the number of patches per patient on idc_sample (14 patients): random-label "
                "ROC-AUC under an image split (patient recognition) and the true-label inflation (image - patient), "
                "CNN, the same test images per fold",
        "densities": list(DENSITIES), "design": {"folds": FOLDS, "repeats": REPEATS, "n_patients": 14},
        "budget": {"epochs": EPOCHS, "balance": "smote_hybrid", "batch_size": 32},
        "by_density": summarise(runs),
        "command": "nice -n 5 .venv/bin/python docs/measurements/leak_density.py",
        "machine": f"{platform.machine()}, 2 CPU cores shared with other jobs",
    }
    (ROOT / "docs" / "measurements" / "leak-density.json").write_text(json.dumps(payload, indent=2) + "\n")
