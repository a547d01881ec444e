"""The leak's statistics: a model trained on a patient split against the same model trained on an image split,
both scored on the SAME test images (the patient-split model never saw their patients; the image-split model saw
other images of them), so that the split is the one thing the two differ in.

The inflation is image split - patient split, per seed, with one patient draw shared by both regimes and every
seed (paired.paired_differences), and the interval over seeds beside it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..errors import WorkbookError
from ..files import write_text_atomic
from .claims import LEAKAGE_FILE
from .paired import METRICS, RunTest, _aligned, as_test, paired_differences
from .resampling import verdict

Runs = Sequence[str | Path | RunTest]
LEAK_MODELS = ("cnn", "cnn_lstm")  # the models of the workbook's leakage study (training.leakstudy)
OOF_COLUMNS = ["path", "patient", "label", "probability", "threshold"]
STUDY_FOLDER = "leakage"  # under a run's root: <dataset>/units/ (the study's out-of-fold tables) and <dataset>.json


def leak_statistics(patient_runs: Runs, image_runs: Runs, n_boot: int = 1000, seed: int = 0,
                    level: float = 0.95) -> dict:
    """The inflation of roc_auc and balanced_accuracy ({"estimate", "ci", "seed_ci", "p_value"} each), each
    regime's mean score (`patient`, `image`), `decidable`, `reason` and the `verdict` on the claim that the
    image split inflates ROC-AUC (resampling.verdict). patient_runs[s] and image_runs[s] are seed s's two
    regimes, on the same test images."""
    patient, image = [as_test(r) for r in patient_runs], [as_test(r) for r in image_runs]
    for p, i in zip(patient, image, strict=True):
        _aligned(p, i)
    result = paired_differences(image, patient, n_boot, seed, level)
    inflation = {m: {"estimate": result[m]["difference"], "ci": result[m]["ci"], "seed_ci": result[m]["seed_ci"],
                     "p_value": result[m]["p_value"]} for m in METRICS}
    ci = inflation["roc_auc"]["ci"]
    return {"n_seeds": len(patient), "n_patients": result["n_patients"],
            "patient": {m: result[m]["b"] for m in METRICS}, "image": {m: result[m]["a"] for m in METRICS},
            "inflation": inflation, "decidable": result["decidable"], "reason": result["reason"],
            "verdict": verdict(ci if ci is not None else (0.0, 0.0), result["decidable"])}


def leakage_row(dataset: str, model: str, labels: str, image_protocol: str, threshold_rule: str,
                patient_runs: Runs, image_runs: Runs, n_boot: int = 1000, seed: int = 0,
                level: float = 0.95) -> dict:
    """One row of leakage.json: dataset, model, labels ("true" or "random"), image_protocol, n_seeds,
    n_patients, threshold_rule (the one rule both regimes used), patient and image ({roc_auc,
    balanced_accuracy} each), inflation, and decidable, reason and verdict (leak_statistics)."""
    stats = leak_statistics(patient_runs, image_runs, n_boot, seed, level)
    return {"dataset": dataset, "model": model, "labels": labels, "image_protocol": image_protocol,
            "threshold_rule": threshold_rule, **stats}


def arm_name(model: str, labels: str, regime: str) -> str:
    """The name of a leakage-study arm, e.g. cnn_lstm_random_image."""
    return f"{model}_{labels}_{regime}"


def _pooled(units: pd.DataFrame, arm: str, repeat: int, folds: list[int]) -> pd.DataFrame:
    rows = units[(units["arm"] == arm) & (units["repeat"] == repeat) & units["fold"].isin(folds)]
    return rows.assign(patient=rows["patient"].astype(str))[OOF_COLUMNS]


def _regime_pair(units: pd.DataFrame, model: str, labels: str) -> tuple[list[RunTest], list[RunTest], list[str]]:
    """Per repeat, the patient regime's and the image regime's pooled out-of-fold predictions on the images the
    image regime was tested on (the folds both finished), and the threshold rules they used."""
    patient_arm, image_arm = arm_name(model, labels, "patient"), arm_name(model, labels, "image")
    patient, image, rules = [], [], []
    for repeat in sorted(units["repeat"].unique()):
        done = [set(units.loc[(units["arm"] == a) & (units["repeat"] == repeat), "fold"])
                for a in (patient_arm, image_arm)]
        folds = sorted(done[0] & done[1])
        if not folds:
            continue
        img = _pooled(units, image_arm, repeat, folds).sort_values("path", ignore_index=True)
        pat = _pooled(units, patient_arm, repeat, folds)
        pat = pat[pat["path"].isin(img["path"])].sort_values("path", ignore_index=True)
        patient.append(RunTest(f"{patient_arm} repeat {repeat}", pat, float("nan")))
        image.append(RunTest(f"{image_arm} repeat {repeat}", img, float("nan")))
        chosen = units[(units["arm"] == image_arm) & (units["repeat"] == repeat) & units["fold"].isin(folds)]
        rules += chosen["threshold_rule"].astype(str).tolist()
    return patient, image, rules


def crossval_leakage_rows(units: pd.DataFrame, dataset: str, models: Sequence[str] = LEAK_MODELS,
                          folds: int | None = None, n_boot: int = 1000) -> list[dict]:
    """leakage.json's rows from a leakage study's out-of-fold tables (training.crossval): for each model and each
    of true and random labels, the image regime against the patient regime on the same images, repeats as seeds
    (leakage_row), with the study's `design` ({folds, repeats, n_patients, n_test_patients}). The threshold
    rule is the folds' one rule ("youden", "share", or both named when folds differ)."""
    rows = []
    for model in models:
        for labels in ("true", "random"):
            patient, image, rules = _regime_pair(units, model, labels)
            if not patient:
                raise WorkbookError(f"the leakage study of {dataset} has no finished fold for {model} on {labels} "
                                    "labels under both regimes: run it again to resume it")
            rule = "/".join(sorted(set(rules)))
            row = leakage_row(dataset, model, labels, "image", rule, patient, image, n_boot=n_boot)
            tested = pd.concat([r.table for r in image])["patient"].nunique()
            row["design"] = {"folds": folds or int(units["fold"].nunique()), "repeats": len(patient),
                             "n_patients": int(units["patient"].nunique()), "n_test_patients": int(tested)}
            rows.append(row)
    return rows


def merge_leakage(out: str | Path) -> Path | None:
    """leakage.json at the run's root: the rows of every dataset's study under out/leakage/, in name order; None
    when no study ran."""
    parts = sorted((Path(out) / STUDY_FOLDER).glob("*.json"))
    if not parts:
        return None
    rows = [row for part in parts for row in json.loads(part.read_text())]
    target = Path(out) / LEAKAGE_FILE
    write_text_atomic(target, json.dumps(rows, indent=2) + "\n")
    return target
