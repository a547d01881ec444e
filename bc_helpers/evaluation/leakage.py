"""The leak's statistics: a model trained on a patient split against the same model trained on an image split,
both scored on the SAME test images (the patient-split model never saw their patients; the image-split model saw
other images of them), so that the split is the one thing the two differ in.

The inflation is image split - patient split, per seed, with one patient draw shared by both regimes and every
seed (paired.paired_differences), and the interval over seeds beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .paired import METRICS, RunTest, _aligned, as_test, paired_differences
from .resampling import verdict

Runs = Sequence[str | Path | RunTest]


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
