"""Train / validation / test splits: by patient (the default), or the paper's leaky image-level split."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from ..errors import SplitError
from ..runs.config import PROTOCOLS

PARTS = ("train", "val", "test")
MAX_DEALS = 100  # deals of the patients tried before a split is declared impossible
# Independent random streams of one seed: the test holdout, the validation holdout, the folds, the control's labels.
HOLDOUT_STREAM = {"test": 1, "validation": 2}
FOLD_STREAM, LABEL_STREAM = 3, 4


def split_table(
    table: pd.DataFrame,
    protocol: str = "patient",
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> pd.Series:
    """The part ("train", "val" or "test") of every row of an index table, seeded and reproducible.

    - "patient": every patient in exactly one part, drawn by the seed, stratified by class mix;
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
    """Hold out about `fraction` of the patients in `rows`, keeping both classes on each side. The seed draws
    the patients (`deal_patients`): every seed a different holdout wherever the data allow one."""
    patients = np.unique(groups[rows])
    if len(patients) < 3:
        raise SplitError(
            f"only {len(patients)} patient(s) ({', '.join(patients[:5])}) left to split off a "
            f"{name} part: a patient-level split needs at least 3 patients. Add patients, or use "
            "protocol 'paper' (image-level; it leaks patients, see notebook 02)."
        )
    # at least 2 patients held out: one patient of one class could never give a part with both
    folds = int(max(2, min(round(1 / fraction), len(patients) // 2)))
    table = pd.DataFrame({"patient": groups[rows], "label": labels[rows]})
    rng = np.random.default_rng([seed, HOLDOUT_STREAM[name]])
    for _ in range(MAX_DEALS):
        held = deal_patients(table, folds, rng).reindex(groups[rows]).to_numpy() == 0
        if len(np.unique(labels[rows][held])) == 2 and len(np.unique(labels[rows][~held])) == 2:
            return rows[~held], rows[held]
    raise SplitError(
        f"no grouping of the {len(patients)} patients gives a {name} part with both classes: "
        "add patients of the missing class, or use protocol 'paper' (leaky)."
    )


def patient_strata(table: pd.DataFrame) -> pd.Series:
    """Each patient's class mix as a stratum: 0 (negative images only), 4 (positive only), or 1-3 (both, by the
    positive share in thirds). Stratifying by it spreads the patients of one class, who carry most of the patient
    effect, over the parts, while what is drawn is still patients."""
    share = table.groupby(table["patient"].astype(str))["label"].mean()
    mixed = 1 + np.minimum((share.to_numpy() * 3).astype(int), 2)
    strata = np.where(share.to_numpy() == 0, 0, np.where(share.to_numpy() == 1, 4, mixed))
    return pd.Series(strata, index=share.index, name="stratum")


def deal_patients(table: pd.DataFrame, folds: int, rng: np.random.Generator) -> pd.Series:
    """Each patient's fold, 0..folds-1: the patients of each stratum in a random order, dealt round the folds,
    each stratum carrying on where the last stopped, from a random first fold. The patients themselves are
    permuted: sklearn's StratifiedGroupKFold shuffles only patients of identical class counts, so on 14 patients
    every seed gave the same test patients."""
    strata = patient_strata(table)
    fold = pd.Series(0, index=strata.index, name="fold")
    start = int(rng.integers(folds))
    for stratum in np.unique(strata.to_numpy()):
        members = rng.permutation(strata.index[strata.to_numpy() == stratum].to_numpy())
        fold[members] = (start + np.arange(len(members))) % folds
        start = (start + len(members)) % folds
    return fold


def patient_folds(table: pd.DataFrame, folds: int = 5, repeats: int = 1,
                  seed: int = 0) -> list[tuple[int, int, np.ndarray]]:
    """Repeated patient-grouped K-fold cross-validation: (repeat, fold, test rows) for every fold of every repeat.

    Every patient is tested exactly once per repeat, so a repeat's out-of-fold predictions cover every image and
    can be pooled; each repeat deals the patients anew (seeded by `seed` and the repeat). A deal whose folds do not
    all hold both classes is dealt again, up to MAX_DEALS times."""
    patients = table["patient"].astype(str).to_numpy()
    labels = table["label"].to_numpy()
    n_patients = len(np.unique(patients))
    if n_patients < folds:
        raise SplitError(f"{folds}-fold cross-validation by patient needs at least {folds} patients, not {n_patients}")
    out = []
    for repeat in range(repeats):
        rng = np.random.default_rng([seed, repeat, FOLD_STREAM])
        for _ in range(MAX_DEALS):
            of_row = deal_patients(table, folds, rng).reindex(patients).to_numpy()
            if all(len(np.unique(labels[of_row == k])) == 2 for k in range(folds)):
                break
        out += [(repeat, k, np.flatnonzero(of_row == k)) for k in range(folds)]
    return out


def random_patient_labels(table: pd.DataFrame, seed: int = 0, groups: np.ndarray | None = None) -> np.ndarray:
    """The random-label control's labels: every patient one label, all its images carry it, the share of positive
    images kept. The labels carry no class, only patients: under a patient split nothing is learnable, and whatever
    an image split scores above chance is patient recognition.

    Drawn independent of the true class, not merely at random: patients are ordered by their true positive share
    (ties in a seeded random order) and labelled by error diffusion, each called positive when that brings the
    running share of positive images nearer the true share, from a seeded random start. Every stretch of that
    order, so patients of every true share, gets about the same share of random positives. A plain random draw
    would correlate with the class by chance, and a model that learns the class would then score far from 0.5
    under a patient split (seen: 0.29 and 0.75 on the BreaKHis-like sample's 75 patients). `groups` (one value per
    row, constant within a patient, e.g. a cross-validation fold) are balanced each on their own. At least one
    patient of each class when there are two patients or more."""
    frame = pd.DataFrame({"patient": table["patient"].astype(str).to_numpy(), "label": table["label"].to_numpy(),
                          "group": 0 if groups is None else np.asarray(groups)})
    stats = frame.groupby("patient").agg(images=("label", "size"), share=("label", "mean"), group=("group", "first"))
    rng = np.random.default_rng([seed, LABEL_STREAM])
    stats["tiebreak"] = rng.permutation(len(stats))
    stats = stats.sort_values(["group", "share", "tiebreak"])
    target = float(frame["label"].mean())
    error = float(rng.uniform(-0.5, 0.5) * stats["images"].mean())  # positive images minus target, so far
    positive = np.zeros(len(stats), dtype=bool)
    for i, n in enumerate(stats["images"].to_numpy()):
        positive[i] = abs(error + n * (1 - target)) < abs(error - n * target)
        error += n * (positive[i] - target)
    if len(positive) >= 2 and (positive.all() or not positive.any()):
        positive[rng.integers(len(positive))] = not positive[0]
    chosen = set(stats.index[positive])
    return frame["patient"].isin(chosen).astype(int).to_numpy()


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
