"""The synthetic sample (v5) beside the real IDC cohort: shape, colour, tiling, and the single-feature baselines.

Run from the repository root, with ../shared beside it (the cohort's figures are skipped without it):
    .venv/bin/python docs/measurements/sample_v5.py [SAMPLE_DIR]
SAMPLE_DIR defaults to a fresh sample generated with the default spec into a temporary folder (its generation
time is measured then). Writes docs/measurements/sample-v5.json, which notebook 01 reads.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from bc_helpers.data.cache import fit_image
from bc_helpers.data.datasets import index_dataset
from bc_helpers.data.images import load_rgb
from bc_helpers.data.sample import SampleSpec, neighbour_share, write_sample
from bc_helpers.data.splits import split_table

ROOT = Path(__file__).resolve().parents[2]
COHORT = Path(os.environ.get("BC_COHORT", ROOT.parent / "shared" / "data" / "idc_cohort"))  # a worktree sets it
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def features(images: np.ndarray) -> dict[str, np.ndarray]:
    """The hand-made features a student might try first, one number (or one colour) per patch."""
    pixels = images.reshape(len(images), -1, 3).astype(np.float32) / 255
    grey = pixels.mean(axis=2)
    return {
        "dark_share": (grey < 0.5).mean(axis=1, keepdims=True),
        "mean_rgb": pixels.mean(axis=1),
        "grey_percentiles": np.percentile(grey, [5, 25, 50, 75, 95], axis=1).T,
        "rgb_percentiles": np.concatenate([np.percentile(pixels[..., c], [10, 50, 90], axis=1).T for c in range(3)],
                                          axis=1),
    }


def baselines(table: pd.DataFrame, images: np.ndarray) -> dict[str, float]:
    """Test ROC-AUC of a logistic regression on each feature, fitted on the training part of the default split."""
    parts = split_table(table, "patient", seed=0).to_numpy()
    labels = table["label"].to_numpy()
    train, test = parts == "train", parts == "test"
    result = {}
    for name, x in features(images).items():
        scaler = StandardScaler().fit(x[train])
        model = LogisticRegression(max_iter=1000).fit(scaler.transform(x[train]), labels[train])
        result[name] = round(float(roc_auc_score(labels[test], model.predict_proba(scaler.transform(x[test]))[:, 1])),
                             3)
    return result


def describe(root: Path) -> dict:
    """Shape, colour, tiling and baselines of an IDC-layout folder."""
    index = index_dataset("idc", root)
    table = index.table.reset_index(drop=True)
    images = np.stack([fit_image(load_rgb(Path(p)), 50, "idc") for p in table["path"]])
    per_patient = table.groupby("patient")["label"]
    parts = split_table(table, "patient", seed=0)
    rgb = images.reshape(len(images), -1, 3).astype(np.float32)
    colour = {
        str(label): {
            "mean_rgb": [round(float(v), 1) for v in rgb[table["label"].to_numpy() == label].mean(axis=(0, 1))],
            "grey_percentiles_5_50_95": [round(float(v), 1) for v in np.percentile(
                rgb[table["label"].to_numpy() == label].mean(axis=2), [5, 50, 95])],
            "dark_share_mean": round(float((rgb[table["label"].to_numpy() == label].mean(axis=2) < 127.5).mean()), 3),
        }
        for label in (0, 1)
    }
    split = {part: {"patients": int(table.loc[parts == part, "patient"].nunique()),
                    "patients_with_class": {str(c): int(table.loc[(parts == part) & (table["label"] == c),
                                                                  "patient"].nunique()) for c in (0, 1)}}
             for part in ("train", "val", "test")}
    return {
        "images": len(table), "patients": int(table["patient"].nunique()),
        "positive_share": round(float(table["label"].mean()), 3),
        "patches_per_patient_quantiles": dict(zip(map(str, QUANTILES),
                                                  per_patient.size().quantile(QUANTILES).round(1).tolist(),
                                                  strict=True)),
        "share_of_patients_with_both_labels": round(float((per_patient.nunique() == 2).mean()), 3),
        "per_patient_positive_share_quantiles": dict(zip(map(str, QUANTILES),
                                                         per_patient.mean().quantile(QUANTILES).round(3).tolist(),
                                                         strict=True)),
        "median_share_of_patches_with_a_neighbour": round(neighbour_share(table), 3),
        "colour_per_class": colour,
        "default_patient_split": split,
        "single_feature_test_roc_auc": baselines(table, images),
    }


def main() -> None:
    spec = SampleSpec()
    with tempfile.TemporaryDirectory() as tmp:
        given = Path(sys.argv[1]) if len(sys.argv) > 1 else None
        started = time.perf_counter()
        root = given or Path(tmp) / "sample"
        if given is None:
            write_sample(root, spec)
        seconds = None if given else round(time.perf_counter() - started, 1)
        sample = describe(root / "idc")
        breakhis = index_dataset("breakhis", root / "breakhis").table
    bh_parts = split_table(breakhis, "patient", seed=0)
    out = ROOT / "docs" / "measurements" / "sample-v5.json"
    out.write_text(json.dumps({
        "what": "the built-in SYNTHETIC sample (IDC-like part) beside the real IDC cohort of ../shared/data/idc_cohort",
        "how": "each IDC-like patient's slide is drawn first (tissue, fat, benign ducts, IDC regions with "
               "ambiguous borders, the patient's own stain, nuclei and scanner noise), then cut into 50 px "
               "patches labelled by their overlap with IDC, as Kaggle's are. Single-feature baselines: a "
               "logistic regression on one hand-made feature (dark_share: share of pixels with grey < 0.5; "
               "mean_rgb; grey or RGB percentiles), fitted on the training part of the default patient split "
               "(70/15/15, seed 0), scored by ROC-AUC on its test patients. A model must clear these to have "
               "learnt more than colour. The tiling figure is the median, over patients, of the share of a "
               "patient's patches with another of its patches 50 px away.",
        "command": "cd <repo> && .venv/bin/python docs/measurements/sample_v5.py",
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, 2 CPU cores",
        "spec": asdict(spec),
        "generation_seconds": seconds,
        "sample": sample,
        "sample_breakhis": {"images": len(breakhis), "patients": int(breakhis["patient"].nunique()),
                            "malignant_share": round(float(breakhis["label"].mean()), 3),
                            "test_patients": int(breakhis.loc[bh_parts == "test", "patient"].nunique())},
        "cohort": describe(COHORT) if COHORT.exists() else None,
    }, indent=2) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
