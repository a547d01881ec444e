"""Is the stain fingerprint blind to the class? Its within-patient ROC-AUC on ../shared/data/idc_cohort.

A control that can only recognise patients must not separate cancer from non-cancer inside one patient: there
the slide's staining and scanning are constant, so a within-patient ROC-AUC away from 0.5 is class signal.
Measured on every cohort patient holding both labels:
- each of the fingerprint's six features alone (the 75th and 95th percentile of R, G, B), no training;
- the fingerprint control itself (standardise, 15-nearest-neighbour vote), by 5-fold patient-grouped
  cross-validation (data.splits.patient_folds), scored within each test patient.
Writes docs/measurements/fingerprint-cohort.json. No TensorFlow; about a minute.
    .venv/bin/python docs/measurements/fingerprint_cohort.py
"""

import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bc_helpers.data.cache import load_images, storage_size
from bc_helpers.data.datasets import index_dataset
from bc_helpers.data.splits import patient_folds

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "idc_cohort"
PERCENTILES = (75, 95)
NEIGHBOURS = 15
FOLDS, SEED, N_BOOT = 5, 0, 2000


def fingerprint(images: np.ndarray) -> np.ndarray:
    """(N, 6): each image's 75th and 95th percentile of R, G and B (the control's features)."""
    flat = np.asarray(images).reshape(len(images), -1, 3)
    return np.percentile(flat, PERCENTILES, axis=1).transpose(1, 0, 2).reshape(len(images), -1)


def within_patient(score: np.ndarray, labels: np.ndarray, patients: np.ndarray) -> pd.Series:
    """ROC-AUC inside each patient holding both labels."""
    frame = pd.DataFrame({"s": score, "y": labels, "p": patients})
    return frame.groupby("p").apply(lambda g: roc_auc_score(g["y"], g["s"]) if g["y"].nunique() == 2 else np.nan,
                                    include_groups=False).dropna()


def summary(aucs: pd.Series, rng: np.random.Generator) -> dict:
    """Median, interquartile range, mean and a patient-bootstrap 95% interval of the mean."""
    values = aucs.to_numpy()
    boot = [rng.choice(values, len(values)).mean() for _ in range(N_BOOT)]
    return {"n_patients": len(values), "median": float(np.median(values)),
            "iqr": [float(np.quantile(values, 0.25)), float(np.quantile(values, 0.75))],
            "mean": float(values.mean()), "mean_ci": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
            "share_above_0.6": float((values > 0.6).mean())}


started = time.perf_counter()
index = index_dataset("idc", DATA)
table = index.table
images = load_images(index, storage_size(index, 50))
features = fingerprint(images)
labels, patients = table["label"].to_numpy(), table["patient"].astype(str).to_numpy()
rng = np.random.default_rng(SEED)
names = [f"{c}{q}" for q in PERCENTILES for c in "RGB"]
single = {}
for k, name in enumerate(names):
    aucs = within_patient(features[:, k], labels, patients)
    # a feature may rank either way; report the direction that the pooled data favour, and its within-patient AUC
    sign = 1 if roc_auc_score(labels, features[:, k]) >= 0.5 else -1
    single[name] = {"direction": "higher is positive" if sign > 0 else "lower is positive",
                    **summary(within_patient(sign * features[:, k], labels, patients), rng)}
    del aucs
oof = np.full(len(table), np.nan)
for _, _, test in patient_folds(table, FOLDS, 1, SEED):
    train = np.setdiff1d(np.arange(len(table)), test)
    knn = make_pipeline(StandardScaler(), KNeighborsClassifier(NEIGHBOURS)).fit(features[train], labels[train])
    oof[test] = knn.predict_proba(features[test])[:, 1]
control = summary(within_patient(oof, labels, patients), rng)
both = int(pd.Series(labels).groupby(patients).nunique().eq(2).sum())
result = {
    "what": "the stain fingerprint's within-patient ROC-AUC on the cohort's patients with both labels: each feature "
            "alone, and the 15-NN control by patient-grouped cross-validation (out-of-fold, scored within patient)",
    "dataset": "../shared/data/idc_cohort", "n_images": len(table), "n_patients": int(len(np.unique(patients))),
    "patients_with_both_labels": both,
    "design": {"folds": FOLDS, "repeats": 1, "n_patients": int(len(np.unique(patients))),
               "n_test_patients": int(len(np.unique(patients)))},
    "single_features": single,
    "control_out_of_fold": control | {"pooled_roc_auc": float(roc_auc_score(labels, oof))},
    "reading": "a within-patient ROC-AUC near 0.5 would show the fingerprint blind to the class; well above it, the "
               "fingerprint sees cancer inside a slide, so its image-split gain is not patient recognition alone",
    "command": "cd <repo> && .venv/bin/python docs/measurements/fingerprint_cohort.py",
    "machine": f"{platform.machine()}, 2 CPU cores", "wall_seconds": round(time.perf_counter() - started, 1),
}
(ROOT / "docs" / "measurements" / "fingerprint-cohort.json").write_text(json.dumps(result, indent=2) + "\n")
print(json.dumps({k: (v["median"], v["iqr"], v["mean_ci"]) for k, v in single.items()}, indent=1))
print("control", json.dumps(result["control_out_of_fold"]))
