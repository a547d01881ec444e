"""Repeated patient-grouped cross-validation of several arms on the same test images: the engine of the cohort's
measurements (the ablation, the leak, the random-label control, the stain options) and of the course's small
leakage and ablation designs.

Every arm of a fold is scored on that fold's test images (a fold of `data.splits.patient_folds`: every patient is
tested once per repeat), with one threshold rule for the fold. An arm differs from another in one thing: its model,
its regime ("patient": trained on the other patients, validated on held-out ones; "image": an image-level split
of every image but the fold's test images, so it has seen other images of the test patients), its labels ("true"
or "random", `data.splits.random_patient_labels`, the same for every arm of a repeat), its stain option, or one
field of its training budget (`Arm.budget`: epochs, learning rate, balancing, augmentation). The
patient regime is tested on every image of the fold's patients, the image regime on half of them (it trained on
the other half): the leak is read on the images both were tested on.

Each (arm, repeat, fold) writes one out-of-fold table, units/<arm>__r<repeat>__f<fold>.csv (path, patient, label,
true_label, probability, arm, regime, labels, fold, repeat, seed, threshold, threshold_rule, epochs_run,
train_seconds): a killed run resumes at the next missing table, and any statistic can be recomputed from them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.balance import balance
from ..data.splits import _group_holdout, _image_holdout, patient_folds, random_patient_labels
from ..evaluation.decisions import MIN_PATIENTS_PER_CLASS, choose_threshold, patients_per_class
from ..files import write_text_atomic
from ..models.builders import build_model, compile_model, targets_for
from ..models.pipeline import make_dataset
from ..models.pool import ModelPool
from ..models.runtime import keras, set_seed
from ..models.stain import with_stain
from ..runs.config import check_choice
from .inference import predict_probabilities

REGIMES = ("patient", "image")
LABELS = ("true", "random")
# The fields of Design an arm may change: its training budget. The folds, the seed, the validation share and the
# image size stay the design's, so every arm of a fold is tested on the same images with the same rule.
BUDGET = ("epochs", "batch_size", "learning_rate", "balance", "augment", "patience")
UNITS = "units"
# The share of a fold's test patients' images the image regime is tested on; it trains on the other half.
IMAGE_TEST_SHARE = 0.5
COLUMNS = ("path", "patient", "label", "true_label", "probability", "arm", "regime", "labels", "fold", "repeat",
           "seed", "threshold", "threshold_rule", "epochs_run", "train_seconds")


@dataclass(frozen=True)
class Arm:
    """One arm: a model trained under a regime, on true or random labels, with a stain option; `budget` overrides
    fields of the design's training budget (BUDGET) for this arm alone, e.g. {"epochs": 10}."""

    name: str
    model: str
    regime: str = "patient"
    labels: str = "true"
    stain: str = "none"
    hparams: dict = field(default_factory=dict, hash=False)
    budget: dict = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        check_choice("regime", self.regime, REGIMES)
        check_choice("labels", self.labels, LABELS)
        unknown = sorted(set(self.budget) - set(BUDGET))
        if unknown:
            raise ValueError(f"arm {self.name!r}: budget {unknown} is not one of {', '.join(BUDGET)} (the folds, "
                             "seed and validation share are the design's, shared by every arm)")
        if "__" in self.name or "/" in self.name:
            raise ValueError(f"arm name {self.name!r}: no '__' or '/' (it names a file)")


@dataclass(frozen=True)
class Design:
    """The cross-validation and the training budget shared by every arm."""

    folds: int = 5
    repeats: int = 1
    seed: int = 0
    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-3
    balance: str = "smote_hybrid"
    augment: bool = True
    patience: int = 3
    val_fraction: float = 0.15
    image_size: int = 50

    def for_arm(self, arm: Arm) -> Design:
        """This design with the arm's budget overrides."""
        return replace(self, **arm.budget)


def image_test_rows(labels: np.ndarray, test_rows: np.ndarray, seed: int) -> np.ndarray:
    """The test images of the image regime: IMAGE_TEST_SHARE of the fold's test patients' images (stratified by
    label, seeded by the fold). The image regime trains on every other image, these patients' other images
    included; the patient regime is scored on them too, so the leak's two arms meet on the same images."""
    _, held = _image_holdout(test_rows, labels, IMAGE_TEST_SHARE, seed)
    return held


def fold_rows(labels: np.ndarray, patients: np.ndarray, test_rows: np.ndarray, regime: str, seed: int,
              val_fraction: float, true_labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train rows, validation rows, test rows) of a fold. "patient": trained on the other patients, validated on
    held-out ones of them, tested on every image of the fold's patients. "image": the paper's image-level split
    of every image but `image_test_rows`, which it is tested on; it has seen the test patients' other images.
    `true_labels` (default `labels`) stratify the image test rows, so random-label arms meet on the same images."""
    if regime == "patient":
        rest = np.setdiff1d(np.arange(len(labels)), test_rows)
        return (*_group_holdout(rest, labels, patients, val_fraction, seed, "validation"), test_rows)
    test = image_test_rows(labels if true_labels is None else true_labels, test_rows, seed)
    rest = np.setdiff1d(np.arange(len(labels)), test)
    return (*_image_holdout(rest, labels, val_fraction, seed), test)


def fold_threshold_rule(labels: np.ndarray, patients: np.ndarray, test_rows: np.ndarray, seed: int,
                        val_fraction: float) -> str:
    """The one threshold rule of every arm of a fold: Youden's J when the patient regime's validation holds at least
    MIN_PATIENTS_PER_CLASS patients of each class, else "share" (see decisions.decide_threshold). It is decided
    from the split alone, before any model, so the leak's arms cannot differ in their rule."""
    _, val, _ = fold_rows(labels, patients, test_rows, "patient", seed, val_fraction)
    enough = min(patients_per_class(labels[val], patients[val]).values()) >= MIN_PATIENTS_PER_CLASS
    return "youden" if enough else "share"


def apply_rule(rule: str, y_val: np.ndarray, p_val: np.ndarray) -> float:
    """The threshold of `rule` on validation: Youden's J, or the share rule (as many called positive as are)."""
    if rule == "youden" and len(np.unique(y_val)) == 2:
        return choose_threshold(y_val, p_val, "youden")
    return float(np.quantile(p_val, 1 - float(np.mean(y_val))))


def fit_arm(arm: Arm, design: Design, images: np.ndarray, labels: np.ndarray, train: np.ndarray,
            val: np.ndarray, seed: int, pool: ModelPool | None = None) -> tuple[keras.Model, int]:
    """Balance the training rows, build and fit the arm's model with early stopping on validation loss (best
    weights kept); returns the model and the epochs run."""
    set_seed(seed)
    smote = design.balance == "smote_hybrid"
    balanced = balance(images[train] if smote else images, labels[train], design.balance, seed)
    arguments = {"image_size": design.image_size, "augment": design.augment, **arm.hparams}
    if pool is not None and arm.stain == "none":
        model = pool.fresh(arm.model, design.learning_rate, **arguments)
    else:
        model = compile_model(with_stain(build_model(arm.model, **arguments), arm.stain, images, train),
                              design.learning_rate)
    cw = balanced.class_weight
    weights = None if cw is None else np.where(balanced.labels == 1, cw[1], cw[0]).astype(np.float32)
    train_ds = make_dataset(balanced.images if smote else images, targets_for(model, balanced.labels),
                            design.batch_size, shuffle=True, seed=seed, rows=None if smote else train,
                            weights=weights)
    val_ds = make_dataset(images, targets_for(model, labels[val]), design.batch_size, rows=val)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=design.patience, restore_best_weights=True)
    history = model.fit(train_ds, validation_data=val_ds, epochs=design.epochs, callbacks=[stop], verbose=0,
                        shuffle=False)  # make_dataset shuffles; Keras warns when asked to as well
    return model, len(history.history.get("loss", []))


def unit_path(out: Path, arm: Arm, repeat: int, fold: int) -> Path:
    """The out-of-fold table of one arm, repeat and fold."""
    return out / UNITS / f"{arm.name}__r{repeat}__f{fold}.csv"


def run_unit(arm: Arm, design: Design, table: pd.DataFrame, images: np.ndarray, labels: np.ndarray,
             repeat: int, fold: int, fold_test: np.ndarray, pool: ModelPool | None = None) -> pd.DataFrame:
    """Train one arm on one fold (`fold_test`: its test patients' rows) and return its test rows with their
    probabilities and the fold's threshold."""
    patients = table["patient"].astype(str).to_numpy()
    design = design.for_arm(arm)
    seed = design.seed + 1000 * repeat + fold
    train, val, test = fold_rows(labels, patients, fold_test, arm.regime, seed, design.val_fraction,
                                 table["label"].to_numpy())
    rule = fold_threshold_rule(labels, patients, fold_test, seed, design.val_fraction)
    start = time.perf_counter()
    model, epochs_run = fit_arm(arm, design, images, labels, train, val, seed, pool)
    seconds = time.perf_counter() - start
    threshold = apply_rule(rule, labels[val], predict_probabilities(model, images, val))
    return pd.DataFrame({
        "path": table["path"].to_numpy()[test], "patient": patients[test], "label": labels[test],
        "true_label": table["label"].to_numpy()[test], "probability": predict_probabilities(model, images, test),
        "arm": arm.name, "regime": arm.regime, "labels": arm.labels, "fold": fold, "repeat": repeat, "seed": seed,
        "threshold": threshold, "threshold_rule": rule, "epochs_run": epochs_run, "train_seconds": seconds,
    })


def repeat_random_labels(table: pd.DataFrame, dealt: list[tuple[int, int, np.ndarray]], repeat: int,
                         seed: int) -> np.ndarray:
    """The random labels of a repeat, shared by its random-label arms: drawn independent of the true class within
    each of its folds (data.splits.random_patient_labels), so neither a fold's test patients nor its training
    patients carry a chance correlation between the random labels and the class."""
    fold_of = np.full(len(table), -1)
    for r, fold, test in dealt:
        if r == repeat:
            fold_of[test] = fold
    return random_patient_labels(table, seed + repeat, groups=fold_of)


def run_crossval(table: pd.DataFrame, images: np.ndarray, arms: list[Arm], design: Design, out: str | Path,
                 log: bool = True) -> pd.DataFrame:
    """Every arm on every fold of every repeat, fold by fold (so a partial run holds whole folds), skipping the
    tables already written; returns all out-of-fold rows. The random-label arms of a repeat share its labels
    (repeat_random_labels)."""
    out = Path(out)
    (out / UNITS).mkdir(parents=True, exist_ok=True)
    pool = ModelPool()
    dealt = patient_folds(table, design.folds, design.repeats, design.seed)
    for repeat, fold, test in dealt:
        for arm in arms:
            path = unit_path(out, arm, repeat, fold)
            if path.exists():
                continue
            labels = (repeat_random_labels(table, dealt, repeat, design.seed) if arm.labels == "random"
                      else table["label"].to_numpy())
            frame = run_unit(arm, design, table, images, labels, repeat, fold, test, pool)
            write_text_atomic(path, frame.to_csv(index=False))
            if log:
                print(f"{arm.name} repeat {repeat} fold {fold}: {frame['train_seconds'].iloc[0]:.0f} s, "
                      f"{frame['epochs_run'].iloc[0]} epochs", flush=True)
    return read_units(out)


def read_units(out: str | Path) -> pd.DataFrame:
    """Every out-of-fold table written under `out` (empty with the columns when none is)."""
    paths = sorted((Path(out) / UNITS).glob("*.csv"))
    if not paths:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat([pd.read_csv(p, dtype={"patient": str}) for p in paths], ignore_index=True)
