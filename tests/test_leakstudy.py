"""The leakage study that `make run` runs on each dataset (training.leakstudy), its leakage.json rows
(evaluation.leakage.crossval_leakage_rows, merge_leakage) and its random labels (data.splits)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bc_helpers.data.splits import random_patient_labels
from bc_helpers.errors import WorkbookError
from bc_helpers.evaluation.leakage import STUDY_FOLDER, arm_name, crossval_leakage_rows, merge_leakage

ROW_KEYS = {"dataset", "model", "labels", "image_protocol", "n_seeds", "n_patients", "threshold_rule", "patient",
            "image", "inflation", "design"}


def _one_class_patients(n: int = 40, seed: int = 0) -> pd.DataFrame:
    """n patients of one class each (every other one positive), 5-40 images each."""
    rng = np.random.default_rng(seed)
    rows = [{"patient": f"p{p}", "label": p % 2, "path": f"p{p}/{k}.png"}
            for p in range(n) for k in range(int(rng.integers(5, 40)))]
    return pd.DataFrame(rows)


def _random_share_by_class(table: pd.DataFrame, labels: np.ndarray, rows: np.ndarray) -> tuple[float, float]:
    """The share of images labelled positive at random, among the true negatives' and the true positives'."""
    shares = pd.Series(labels[rows]).groupby(table["label"].to_numpy()[rows]).mean()
    return float(shares[0]), float(shares[1])


def _plain_draw(table: pd.DataFrame, seed: int) -> np.ndarray:
    """Half the patients positive, drawn by a plain permutation: what the control drew before."""
    patients = table["patient"].unique()
    chosen = np.random.default_rng(seed).permutation(patients)[:len(patients) // 2]
    return table["patient"].isin(chosen).astype(int).to_numpy()


def test_random_labels_are_drawn_independent_of_the_class_in_every_group() -> None:
    table = _one_class_patients()
    groups = table["patient"].str[1:].astype(int).to_numpy() // 2 % 4  # four folds of five patients a class
    gaps: dict[str, list[list[float]]] = {"ours": [[], []], "plain": [[], []]}
    for seed in range(200):
        labels = random_patient_labels(table, seed, groups=groups)
        assert (pd.Series(labels).groupby(table["patient"]).nunique() == 1).all()
        assert abs(labels.mean() - table["label"].mean()) < 0.1
        for name, drawn in (("ours", labels), ("plain", _plain_draw(table, seed))):
            gaps[name][0].append(abs(np.subtract(*_random_share_by_class(table, drawn, np.arange(len(table))))))
            gaps[name][1] += [abs(np.subtract(*_random_share_by_class(table, drawn, np.flatnonzero(groups == g))))
                              for g in range(4)]
    # The gap between the classes' shares of random positives (0: independent of the class), over 200 seeds: a
    # plain draw leaves 0.141 overall and 0.292 within a fold; ours, limited by whole patients of 5-40 images, 0.082
    # and 0.152.
    for whole in (0, 1):
        assert np.mean(gaps["ours"][whole]) < 0.65 * np.mean(gaps["plain"][whole])
    assert len({tuple(random_patient_labels(table, seed, groups=groups)) for seed in range(10)}) == 10  # random


def _units(with_random: bool = True) -> pd.DataFrame:
    """Out-of-fold tables of a study on 20 patients, 2 folds: the image regime sees its test patients, so it ranks
    their true labels better; on random labels both regimes score noise."""
    rng = np.random.default_rng(1)
    rows = []
    for patient in range(20):
        for k in range(12):
            true = int((k + patient) % 3 == 0)
            random = patient % 2
            for labels in ("true", "random") if with_random else ("true",):
                label = true if labels == "true" else random
                for regime, signal in (("patient", 1.0), ("image", 2.5)):
                    if regime == "image" and k % 2:
                        continue  # the image regime is tested on half of each test patient's images
                    for model in ("cnn", "cnn_lstm"):
                        score = signal * label * (labels == "true") + rng.normal()
                        rows.append({"path": f"p{patient}/{k}.png", "patient": str(patient), "label": label,
                                     "probability": 1 / (1 + np.exp(-score)), "threshold": 0.5,
                                     "arm": arm_name(model, labels, regime), "repeat": 0, "fold": patient % 2,
                                     "threshold_rule": "youden"})
    return pd.DataFrame(rows)


def test_leakage_rows_keep_the_contract_and_read_the_leak(tmp_path: Path) -> None:
    rows = crossval_leakage_rows(_units(), "sample", folds=2, n_boot=300)
    assert [(r["model"], r["labels"]) for r in rows] == [
        ("cnn", "true"), ("cnn", "random"), ("cnn_lstm", "true"), ("cnn_lstm", "random")]
    for row in rows:
        assert ROW_KEYS <= set(row)
        assert row["image_protocol"] == "image" and row["threshold_rule"] == "youden"
        assert row["n_patients"] == 20 and row["n_seeds"] == 1
        assert row["design"] == {"folds": 2, "repeats": 1, "n_patients": 20, "n_test_patients": 20}
        for metric in ("roc_auc", "balanced_accuracy"):
            assert set(row["patient"]) >= {metric} and set(row["image"]) >= {metric}
            low, high = row["inflation"][metric]["ci"]
            assert low <= row["inflation"][metric]["estimate"] <= high
    true, random = rows[0], rows[1]
    assert true["inflation"]["roc_auc"]["ci"][0] > 0  # the image regime's stronger signal: a leak
    assert random["inflation"]["roc_auc"]["ci"][0] < 0 < random["inflation"]["roc_auc"]["ci"][1]  # noise: none
    json.dumps(rows)  # leakage.json holds them as they are


def test_a_study_missing_an_arm_says_to_resume() -> None:
    with pytest.raises(WorkbookError, match="no finished fold for cnn on random labels.*resume"):
        crossval_leakage_rows(_units(with_random=False), "sample", models=("cnn",), n_boot=50)


def test_leakage_json_gathers_every_dataset(tmp_path: Path) -> None:
    assert merge_leakage(tmp_path) is None  # no study ran: no file
    folder = tmp_path / STUDY_FOLDER
    folder.mkdir()
    (folder / "sample_breakhis.json").write_text(json.dumps([{"dataset": "sample_breakhis"}]))
    (folder / "sample.json").write_text(json.dumps([{"dataset": "sample"}, {"dataset": "sample"}]))
    target = merge_leakage(tmp_path)
    assert target == tmp_path / "leakage.json"
    assert [r["dataset"] for r in json.loads(target.read_text())] == ["sample", "sample", "sample_breakhis"]


def test_the_study_trains_every_arm_and_writes_its_rows(tmp_path: Path) -> None:
    from bc_helpers.data.sample import SampleSpec, write_sample
    from bc_helpers.training.crossval import Design
    from bc_helpers.training.leakstudy import leakage_arms, run_leakage_study

    # Enough patients that half of them, split again for validation, hold both classes, random labels included.
    write_sample(tmp_path / "s", SampleSpec(patients=24, patches_per_patient=(8, 12), breakhis_patients=2,
                                            breakhis_images=(2, 3), breakhis_shape=(60, 90)))

    assert [a.name for a in leakage_arms(("cnn",))] == [
        "cnn_true_patient", "cnn_true_image", "cnn_random_patient", "cnn_random_image"]
    design = Design(folds=2, repeats=1, epochs=1, balance="class_weight", image_size=24, val_fraction=0.3)
    target = run_leakage_study("sample", tmp_path, tmp_path / "s" / "idc", design, models=("cnn",))
    assert target == tmp_path / STUDY_FOLDER / "sample.json"
    rows = json.loads(target.read_text())
    assert [(r["dataset"], r["model"], r["labels"]) for r in rows] == [("sample", "cnn", "true"),
                                                                        ("sample", "cnn", "random")]
    assert all(ROW_KEYS <= set(r) and r["design"]["n_patients"] == 24 for r in rows)
    assert len(list((tmp_path / STUDY_FOLDER / "sample" / "units").glob("*.csv"))) == 8


def _density_row(patches: float, image_ci: list[float], gain_ci: list[float], leak_ci: list[float]) -> dict:
    def score(ci: list[float]) -> dict:
        return {"roc_auc": {"estimate": sum(ci) / 2, "ci": ci}}

    return {"patches_per_patient": patches,
            "arms": {"cnn_random_image": score(image_ci), "cnn_random_patient": score([0.45, 0.7])},
            "differences": {"cnn_random_image - cnn_random_patient": score(gain_ci),
                            "cnn_image - cnn_patient": score(leak_ci)}}


def test_the_density_finding_calls_recognition_only_when_both_intervals_clear_it() -> None:
    from bc_helpers.evaluation.claims import density_finding

    text = density_finding({"400": _density_row(400, [0.62, 0.9], [0.05, 0.3], [0.05, 0.2]),
                            "100": _density_row(100, [0.55, 0.8], [-0.1, 0.2], [-0.05, 0.08]),
                            "25": _density_row(25, [0.4, 0.62], [-0.1, 0.1], [-0.05, 0.08])})
    low, middle, high = text.split("; at ")
    assert low.startswith("At 25 patches") and "no recognition this measurement can show" in low
    assert "cannot be told from chance" in low
    assert middle.startswith("100 patches") and "its gain over the same control split by patient cannot" in middle
    assert high.startswith("400 patches") and "recognise patients" in high and "above 0: a leak" in high
    assert density_finding({}) == "No density was measured."


def _difference(roc: list[float], bal: list[float]) -> dict:
    return {"roc_auc": {"estimate": sum(roc) / 2, "ci": roc},
            "balanced_accuracy": {"estimate": sum(bal) / 2, "ci": bal}}


def test_a_budget_change_is_adopted_only_when_its_patient_interval_clears_zero() -> None:
    from bc_helpers.evaluation.claims import adopted_changes, defaults_finding

    defaults = {"arms": {"cnn_lstm": {"roc_auc": {"estimate": 0.83, "ci": [0.8, 0.86]}}},
                "design": {"n_test_patients": 213},
                "differences": {"longer - cnn_lstm": _difference([0.01, 0.03], [-0.01, 0.02]),
                                "slower - cnn_lstm": _difference([-0.01, 0.02], [0.01, 0.05]),
                                "weights - cnn_lstm": _difference([0.01, 0.04], [-0.06, -0.01])}}
    assert adopted_changes(defaults) == ["longer"]  # "weights" raises ROC-AUC but lowers balanced accuracy
    text = defaults_finding(defaults, {"longer": "10 epochs"})
    assert "10 epochs: ROC-AUC +0.020 (0.010 to 0.030)" in text and text.endswith("the defaults adopt 10 epochs.")
    defaults["differences"]["all - cnn_lstm"] = _difference([0.02, 0.06], [0.0, 0.04])
    defaults["together"] = "all"  # the adopted changes measured together: reported, never adopted as a change
    assert adopted_changes(defaults) == ["longer"]
    together = "ROC-AUC +0.040 (0.020 to 0.060), balanced accuracy +0.020 (0.000 to 0.040)."
    assert defaults_finding(defaults, {}).endswith("the adopted changes give " + together)
    defaults.pop("together")
    defaults["differences"].pop("all - cnn_lstm")
    defaults["differences"].pop("longer - cnn_lstm")
    assert defaults_finding(defaults, {}).endswith("no change clears the rule, so the defaults stay as they are.")


def _leak_row(model: str, labels: str, patient: float, image: float, ci: tuple[float, float]) -> dict:
    return {"dataset": "sample", "model": model, "image_protocol": "image", "labels": labels,
            "roc_auc (patient split)": patient, "roc_auc (image split)": image, "roc_auc inflation": image - patient,
            "roc_auc inflation ci": ci}


def test_the_control_is_read_by_its_interval_and_a_gain_beyond_it_is_named() -> None:
    import pandas as pd

    from bc_helpers.evaluation.claims import leak_findings

    leak = pd.DataFrame([_leak_row("cnn", "true", 0.70, 0.95, (0.15, 0.30)),
                         _leak_row("cnn", "random", 0.40, 0.55, (-0.02, 0.10))])
    (finding,) = leak_findings(leak)
    assert finding["claim"].startswith("An image split inflates the scores") and finding["verdict"] == "inflated"
    assert "patient recognition cannot be told from chance" in finding["why"]
    assert "below chance, which is noise: read the image split's 0.550 against 0.5" in finding["why"]
    assert "the CNN gained more than any control could" in finding["why"]
    leak.loc[1, "roc_auc inflation ci"] = (0.05, 0.2)  # a control whose gain overlaps the model's: nothing named
    (finding,) = leak_findings(leak)
    assert "gained more than any control" not in finding["why"] and "recognition this run can see" in finding["why"]
