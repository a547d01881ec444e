from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bc_helpers.data.splits import patient_folds
from bc_helpers.training.crossval import Arm, Design, apply_rule, fold_rows, fold_threshold_rule, run_crossval


def _table(n_patients: int = 24, per: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for p in range(n_patients):
        share = [0.0, 0.3, 0.7, 1.0][p % 4]
        rows += [{"patient": f"p{p}", "label": int(rng.random() < share), "path": f"p{p}/{k}.png"} for k in range(per)]
    return pd.DataFrame(rows)


def test_the_image_regime_sees_the_test_patients_but_never_the_test_images() -> None:
    table = _table()
    labels, patients = table["label"].to_numpy(), table["patient"].to_numpy()
    _, _, test = patient_folds(table, 4, 1, 0)[0]
    scored = {}
    for regime in ("patient", "image"):
        train, val, scored[regime] = fold_rows(labels, patients, test, regime, 0, 0.15)
        assert not set(scored[regime]) & (set(train) | set(val))
        assert len(set(train) | set(val) | set(scored[regime])) == len(table)
        seen = set(patients[train]) & set(patients[test])
        assert bool(seen) == (regime == "image")
    assert set(scored["patient"]) == set(test) and set(scored["image"]) < set(test)
    assert set(patients[scored["image"]]) == set(patients[test])  # every test patient, half of its images


def test_one_threshold_rule_per_fold_decided_from_the_split() -> None:
    table = _table()
    labels, patients = table["label"].to_numpy(), table["patient"].to_numpy()
    _, _, test = patient_folds(table, 4, 1, 0)[0]
    assert fold_threshold_rule(labels, patients, test, 0, 0.15) == "share"  # 3 validation patients: too few
    assert fold_threshold_rule(labels, patients, test, 0, 0.5) == "youden"  # 9: enough of each class
    y = np.array([0, 0, 0, 1])
    assert apply_rule("share", y, np.array([0.1, 0.2, 0.3, 0.4])) == pytest.approx(0.325)
    assert apply_rule("youden", y, np.array([0.1, 0.2, 0.3, 0.9])) == pytest.approx(0.9)


def paths_equal(frame: pd.DataFrame, a: str, b: str) -> bool:
    """Whether two arms were tested on the same images, fold by fold."""
    return all(set(part[part["arm"] == a]["path"]) == set(part[part["arm"] == b]["path"])
               for _, part in frame.groupby("fold"))


def test_an_arm_changes_only_its_training_budget() -> None:
    design = Design(folds=3, epochs=5)
    longer = design.for_arm(Arm("longer", "cnn", budget={"epochs": 10, "balance": "class_weight"}))
    assert (longer.epochs, longer.balance, longer.folds) == (10, "class_weight", 3)
    assert design.for_arm(Arm("same", "cnn")) == design
    with pytest.raises(ValueError, match=r"budget \['folds'\]"):
        Arm("other_folds", "cnn", budget={"folds": 2})


def test_arms_are_scored_on_the_same_test_images_and_a_rerun_resumes(tmp_path: Path) -> None:
    from bc_helpers.data.cache import load_images
    from bc_helpers.data.datasets import index_dataset
    from bc_helpers.data.sample import SampleSpec, write_sample

    # Enough patients that half of them, split again for validation, still hold both classes.
    write_sample(tmp_path / "s", SampleSpec(patients=24, patches_per_patient=(8, 12), breakhis_patients=2,
                                            breakhis_images=(2, 3), breakhis_shape=(60, 90)))
    index = index_dataset("sample", tmp_path / "s" / "idc")
    images = load_images(index, 24, progress=False)
    small = {"filters": [4], "dense": 8}
    arms = [Arm("patient", "cnn", hparams=small), Arm("image", "cnn", "image", hparams=small),
            Arm("random", "cnn", "image", "random", hparams=small),
            Arm("longer", "cnn", hparams=small, budget={"epochs": 2, "patience": 5})]
    design = Design(folds=2, repeats=1, epochs=1, balance="class_weight", image_size=24)
    frame = run_crossval(index.table, images, arms, design, tmp_path, log=False)
    units = sorted((tmp_path / "units").glob("*.csv"))
    assert len(units) == 8
    epochs = frame.groupby("arm")["epochs_run"].max()
    assert epochs["longer"] == 2 and epochs["patient"] == 1  # the arm's budget, the design's for the rest
    assert paths_equal(frame, "patient", "longer")
    paths = frame.groupby("arm")["path"].apply(set)
    assert paths["patient"] == set(index.table["path"])  # every image tested once
    assert paths["image"] == paths["random"] and paths["image"] < paths["patient"]
    assert frame.groupby(["fold"])["threshold_rule"].nunique().max() == 1
    random = frame[frame["arm"] == "random"]
    assert (random.groupby("patient")["label"].nunique() == 1).all()
    assert (frame[frame["arm"] == "patient"]["label"] == frame[frame["arm"] == "patient"]["true_label"]).all()
    stamps = [u.stat().st_mtime_ns for u in units]
    run_crossval(index.table, images, arms, design, tmp_path, log=False)  # every unit done: nothing retrained
    assert [u.stat().st_mtime_ns for u in units] == stamps
