"""Train / validation / test splits: by patient (the default), or the paper's leaky image-level split."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from ..errors import SplitError
from ..runs.config import PROTOCOLS

PARTS = ("train", "val", "test")


def split_table(
    table: pd.DataFrame,
    protocol: str = "patient",
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> pd.Series:
    """The part ("train", "val" or "test") of every row of an index table, seeded and reproducible.

    - "patient": every patient in exactly one part, stratified by label (StratifiedGroupKFold);
    - "paper": the paper's image-level random split, stratified by label; it leaks patients
      between parts and is here only to measure how much that inflates scores;
    - "kaggle": BreaKHis's own train/test folders (image-level, leaky), validation drawn from train.
    """
    labels, groups = table["label"].to_numpy(), table["patient"].astype(str).to_numpy()
    parts = pd.Series("train", index=table.index, name="part")
    every = np.arange(len(table))
    if protocol == "patient":
        rest, test = _group_holdout(every, labels, groups, test_fraction, seed, "test")
        train, val = _group_holdout(rest, labels, groups, val_fraction / (1 - test_fraction), seed, "validation")
    elif protocol == "paper":
        rest, test = _image_holdout(every, labels, test_fraction, seed)
        train, val = _image_holdout(rest, labels, val_fraction / (1 - test_fraction), seed)
    elif protocol == "kaggle":
        if "folder_split" not in table or table["folder_split"].isna().any():
            raise SplitError("protocol 'kaggle' needs the BreaKHis Kaggle layout (train/ and test/ folders)")
        test = every[table["folder_split"].to_numpy() == "test"]
        in_train = every[table["folder_split"].to_numpy() == "train"]
        train, val = _image_holdout(in_train, labels, val_fraction / (1 - test_fraction), seed)
    else:
        raise SplitError(f"unknown protocol {protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    parts.iloc[val] = "val"
    parts.iloc[test] = "test"
    if protocol == "patient":
        assert_patients_disjoint(table, parts)
    return parts


def _group_holdout(
    rows: np.ndarray, labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out about `fraction` of the patients in `rows`, keeping both classes on each side."""
    patients = np.unique(groups[rows])
    if len(patients) < 3:
        raise SplitError(
            f"only {len(patients)} patient(s) ({', '.join(patients[:5])}) left to split off a "
            f"{name} part: a patient-level split needs at least 3 patients. Add patients, or use "
            "protocol 'paper' (image-level; it leaks patients, see notebook 02)."
        )
    n_splits = int(min(max(2, round(1 / fraction)), len(patients)))
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for keep, held in folds.split(rows, labels[rows], groups[rows]):
        if len(np.unique(labels[rows][held])) == 2 and len(np.unique(labels[rows][keep])) == 2:
            return rows[keep], rows[held]
    raise SplitError(
        f"no grouping of the {len(patients)} patients gives a {name} part with both classes: "
        "add patients of the missing class, or use protocol 'paper' (leaky)."
    )


def _image_holdout(
    rows: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    keep, held = train_test_split(rows, test_size=fraction, random_state=seed, stratify=labels[rows])
    return np.sort(keep), np.sort(held)


def assert_patients_disjoint(table: pd.DataFrame, parts: pd.Series) -> None:
    """Raise if any patient has images in two parts."""
    per_patient = pd.DataFrame({"patient": table["patient"].astype(str), "part": parts})
    counts = per_patient.groupby("patient")["part"].nunique()
    shared = counts[counts > 1].index.tolist()
    if shared:
        raise AssertionError(f"patients in more than one part: {shared[:10]}")


def patient_overlap(table: pd.DataFrame, parts: pd.Series) -> dict[str, float]:
    """Share of test images whose patient also has images in train, for each protocol's leak."""
    patients = table["patient"].astype(str)
    train_patients = set(patients[parts == "train"])
    test = patients[parts == "test"]
    return {"test_images_with_patient_in_train": float(test.isin(train_patients).mean()) if len(test) else 0.0}


def split_frame(table: pd.DataFrame, parts: pd.Series) -> pd.DataFrame:
    """The split as saved with a run: path, patient, label, part."""
    return pd.DataFrame({"path": table["path"], "patient": table["patient"], "label": table["label"], "part": parts})
