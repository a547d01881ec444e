"""Simulated test sets with patient effects, for the coverage tests: a patient's tissue looks alike in all its
images (a patient effect every model sees), and a model misreads a patient as a whole (a per-patient error of
each trained model), so images of a patient are not independent, as in real histopathology."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bc_helpers.evaluation.paired import RunTest


@dataclass(frozen=True)
class Design:
    """Who is tested: `patients` in all, each seed testing `per_seed` of them (all when None) with `images`
    each; `one_class` the share of patients whose images are all of one class (half of each)."""

    patients: int = 20
    images: int = 30
    seeds: int = 1
    per_seed: int | None = None
    one_class: float = 0.3
    signal: float = 1.5  # the class's shift of the logit
    patient_sd: float = 1.0  # how much patients differ, for every model
    model_sd: float = 0.8  # how much a model's error on a patient as a whole varies between trained models
    image_sd: float = 1.0


def cohort(design: Design, rng: np.random.Generator) -> pd.DataFrame:
    """The test images: path, patient, label and the patient's effect."""
    k, m = design.patients, design.images
    single = rng.random(k) < design.one_class
    share = np.where(single, rng.integers(0, 2, k), rng.uniform(0.2, 0.8, k))
    labels = (rng.random((k, m)) < share[:, None]).astype(int)
    return pd.DataFrame({"path": [f"p{p:03d}_{i:03d}.png" for p in range(k) for i in range(m)],
                         "patient": np.repeat([f"p{p:03d}" for p in range(k)], m), "label": labels.ravel(),
                         "effect": np.repeat(rng.normal(0, design.patient_sd, k), m)})


def trained(images: pd.DataFrame, design: Design, rng: np.random.Generator, name: str, gain: float = 0.0,
            threshold: float = 0.5) -> RunTest:
    """One trained model's test predictions: the class signal (plus `gain`), the patient's effect, this model's
    error on each patient as a whole, and image noise."""
    codes, _ = pd.factorize(images["patient"])
    error = rng.normal(0, design.model_sd, codes.max() + 1)[codes]
    y = images["label"].to_numpy()
    logit = ((design.signal + gain) * (2 * y - 1) / 2 + images["effect"].to_numpy() + error
             + rng.normal(0, design.image_sd, len(y)))
    table = images[["path", "patient", "label"]].assign(probability=1 / (1 + np.exp(-logit)))
    return RunTest(name, table.reset_index(drop=True), threshold)


def seed_tests(design: Design, rng: np.random.Generator, gain: float = 0.0) -> tuple[list[RunTest], list[RunTest]]:
    """Two arms (A with `gain` over B), one run of each per seed; every seed tests the same patients, or
    `per_seed` of them drawn afresh."""
    images = cohort(design, rng)
    names = images["patient"].unique()
    a, b = [], []
    for s in range(design.seeds):
        held = images if design.per_seed is None else images[images["patient"].isin(
            rng.choice(names, design.per_seed, replace=False))]
        a.append(trained(held, design, rng, f"a{s}", gain))
        b.append(trained(held, design, rng, f"b{s}"))
    return a, b
