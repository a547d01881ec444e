from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bc_helpers.data.splits import patient_overlap, split_table
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
