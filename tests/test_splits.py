from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bc_helpers.data.splits import patient_folds, patient_overlap, random_patient_labels, split_table
from bc_helpers.errors import SplitError


def _table(n_patients: int = 20, per: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        share = rng.choice([0.05, 0.5, 0.9])
        rows += [{"patient": f"p{p}", "label": int(rng.random() < share), "path": f"p{p}/{k}.png"} for k in range(per)]
    return pd.DataFrame(rows)


def test_patient_split_keeps_each_patient_in_one_part() -> None:
    table = _table()
    parts = split_table(table, "patient", seed=3)
    assert (pd.DataFrame({"p": table["patient"], "part": parts}).groupby("p")["part"].nunique() == 1).all()
    for part in ("train", "val", "test"):
        assert set(table["label"][parts == part]) == {0, 1}
    assert 0.05 < (parts == "test").mean() < 0.3
    assert patient_overlap(table, parts)["test_images_with_patient_in_train"] == 0.0


def test_splits_are_reproducible_and_seeded() -> None:
    table = _table()
    assert split_table(table, seed=1).equals(split_table(table, seed=1))
    assert not split_table(table, seed=1).equals(split_table(table, seed=2))


def test_paper_protocol_is_image_level_and_leaks() -> None:
    table = _table()
    parts = split_table(table, "paper", seed=0)
    assert abs((parts == "test").mean() - 0.15) < 0.02
    assert patient_overlap(table, parts)["test_images_with_patient_in_train"] > 0.9


def test_kaggle_protocol_uses_the_folders() -> None:
    table = _table(6, 20)
    table["folder_split"] = np.where(np.arange(len(table)) % 5 == 0, "test", "train")
    parts = split_table(table, "kaggle")
    assert (parts[table["folder_split"] == "test"] == "test").all()
    assert set(parts[table["folder_split"] == "train"]) == {"train", "val"}
    with pytest.raises(SplitError, match="Kaggle layout"):
        split_table(_table(), "kaggle")


def test_a_single_patient_cannot_be_split_by_patient() -> None:
    table = _table(1, 50)
    with pytest.raises(SplitError, match="at least 3 patients"):
        split_table(table, "patient")
    assert set(split_table(table, "paper")) == {"train", "val", "test"}


def test_unknown_protocol() -> None:
    with pytest.raises(SplitError, match="choose one of patient, paper, kaggle"):
        split_table(_table(), "random")


def _fourteen() -> pd.DataFrame:
    """idc_sample's shape: 3 patients of both classes, 1 negative only, 10 positive only."""
    rows = []
    for p in range(14):
        labels = [k % 2 for k in range(40)] if p < 3 else [0] * 40 if p == 3 else [1] * 40
        rows += [{"patient": f"p{p}", "label": y, "path": f"p{p}/{k}.png"} for k, y in enumerate(labels)]
    return pd.DataFrame(rows)


def test_seeds_draw_different_test_patients_on_few_patients() -> None:
    table = _fourteen()
    tests = {frozenset(table["patient"][split_table(table, "patient", seed=s) == "test"]) for s in range(10)}
    assert len(tests) >= 5  # StratifiedGroupKFold's "first fold" gave one set of test patients for every seed


def test_cohort_seeds_test_different_patients(shared_cohort: Path) -> None:
    from bc_helpers.data.datasets import index_dataset

    table = index_dataset("idc", shared_cohort).table
    first, second = (set(table["patient"][split_table(table, "patient", seed=s) == "test"]) for s in (0, 1))
    assert first != second and len(first & second) < len(first) / 2


def test_patient_folds_test_every_patient_once_per_repeat() -> None:
    table = _table(40, 20)
    folds = patient_folds(table, folds=5, repeats=2, seed=0)
    assert [(r, k) for r, k, _ in folds] == [(r, k) for r in range(2) for k in range(5)]
    for repeat in range(2):
        rows = np.concatenate([t for r, _, t in folds if r == repeat])
        assert sorted(rows) == list(range(len(table)))  # every image once: every patient once
        for _, _, test in (f for f in folds if f[0] == repeat):
            assert set(table["label"].iloc[test]) == {0, 1}
            others = np.setdiff1d(np.arange(len(table)), test)
            assert not set(table["patient"].iloc[test]) & set(table["patient"].iloc[others])
    first = [frozenset(table["patient"].iloc[t]) for r, _, t in folds if r == 0]
    second = [frozenset(table["patient"].iloc[t]) for r, _, t in folds if r == 1]
    assert set(first) != set(second)


def test_patient_folds_spread_one_class_patients() -> None:
    table = _fourteen()
    for _, _, test in patient_folds(table, folds=3, repeats=3, seed=1):
        assert set(table["label"].iloc[test]) == {0, 1}
    with pytest.raises(SplitError, match="at least 20 patients"):
        patient_folds(table, folds=20)


def test_random_patient_labels_keep_patients_and_class_shares() -> None:
    table = _table(60, 25)
    labels = random_patient_labels(table, seed=0)
    assert (pd.Series(labels).groupby(table["patient"]).nunique() == 1).all()
    assert abs(labels.mean() - table["label"].mean()) < 0.05
    assert (labels == random_patient_labels(table, seed=0)).all()
    assert not (labels == random_patient_labels(table, seed=1)).all()
    assert set(random_patient_labels(_table(2, 5), seed=3)) == {0, 1}
