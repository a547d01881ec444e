"""The cohort's measurements as JSON, from the out-of-fold tables of cohort_crossval.py (no TensorFlow, no training).

For each arm, the repeat's out-of-fold predictions are pooled (every patient tested once per repeat) and scored:
ROC-AUC, balanced accuracy at each fold's own threshold, and the mean within-patient ROC-AUC over the test
patients holding both labels. Intervals resample patients, one draw shared by every arm (so a difference between
arms is paired by patient); `seed_ci` is the spread over folds x repeats of the per-fold differences (training
variance: a t-interval of their mean). Only folds that every compared arm has finished are used.

    .venv/bin/python docs/measurements/cohort_summary.py [RUN_DIR]
writes docs/measurements/{ablation,leak,random-labels,stain}-cohort.json and cohort-crossval-oof.csv.gz.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "measurements"
N_BOOT, LEVEL, SEED = 1000, 0.95, 0
MIN_TEST_PATIENTS = 10
METRICS = ("roc_auc", "balanced_accuracy", "within_patient_roc_auc")


def read_units(out: Path) -> pd.DataFrame:
    """Every out-of-fold table under out/units (training.crossval.read_units, without importing TensorFlow), each
    image's path relative to the cohort's folder (units written on machines that keep ../shared elsewhere meet)."""
    frame = pd.concat([pd.read_csv(p, dtype={"patient": str}) for p in sorted((out / "units").glob("*.csv"))],
                      ignore_index=True)
    return frame.assign(path=frame["path"].str.replace(r"^.*?idc_cohort/", "", regex=True))


def balanced_accuracy(y: np.ndarray, predicted: np.ndarray) -> float:
    """Mean of sensitivity and specificity (nan without both classes)."""
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(np.mean([np.mean(predicted[y == c] == c) for c in (0, 1)]))


def within_patient_auc(frame: pd.DataFrame) -> float:
    """Mean ROC-AUC inside each patient holding both labels: class signal with the patient held constant."""
    aucs = [roc_auc_score(g["label"], g["probability"]) for _, g in frame.groupby("patient")
            if g["label"].nunique() == 2]
    return float(np.mean(aucs)) if aucs else float("nan")


def scores(frame: pd.DataFrame) -> dict[str, float]:
    """The pooled out-of-fold scores of one arm (one repeat, or several averaged)."""
    out = {m: [] for m in METRICS}
    for _, rep in frame.groupby("repeat"):
        y = rep["label"].to_numpy()
        out["roc_auc"].append(roc_auc_score(y, rep["probability"]) if len(np.unique(y)) == 2 else np.nan)
        out["balanced_accuracy"].append(balanced_accuracy(y, (rep["probability"] >= rep["threshold"]).to_numpy()))
        out["within_patient_roc_auc"].append(within_patient_auc(rep))
    return {m: float(np.mean(v)) for m, v in out.items()}


def complete(frame: pd.DataFrame, arms: list[str]) -> pd.DataFrame:
    """The rows of `arms` on the (repeat, fold)s that every one of them has finished, and on the images that every
    one of them was tested on."""
    frame = frame[frame["arm"].isin(arms)]
    done = frame.groupby(["repeat", "fold"])["arm"].nunique()
    keep = done[done == len(arms)].index
    frame = frame.set_index(["repeat", "fold"]).loc[keep].reset_index() if len(keep) else frame.iloc[:0]
    # the images every arm was tested on (the image regime is tested on half of each fold's patients' images)
    shared = frame.groupby(["repeat", "fold", "path"])["arm"].transform("nunique") == len(arms)
    return frame[shared]


def fast_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC by ranks (ties averaged), as roc_auc_score computes it, fast enough for a bootstrap."""
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n0 == 0 or n1 == 0:
        return float("nan")
    ranks = stats.rankdata(p)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n0 * n1))


def shared_bootstrap(frame: pd.DataFrame, arms: list[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """(N_BOOT, metric) draws per arm: each draw resamples the test patients once, for every arm and repeat
    alike; a patient drawn twice counts twice, and its within-patient ROC-AUC twice."""
    patients = np.unique(frame["patient"])
    draws = {a: np.full((N_BOOT, len(METRICS)), np.nan) for a in arms}
    chosen = [rng.choice(len(patients), len(patients)) for _ in range(N_BOOT)]
    for a in arms:
        per_repeat = []
        for _, rep in frame[frame["arm"] == a].groupby("repeat"):
            code = pd.Categorical(rep["patient"], categories=patients).codes
            order = np.argsort(code, kind="stable")
            starts = np.searchsorted(code[order], np.arange(len(patients) + 1))
            y, p = rep["label"].to_numpy()[order], rep["probability"].to_numpy()[order]
            hit = (p >= rep["threshold"].to_numpy()[order]).astype(int)
            within = np.array([fast_auc(y[starts[k]:starts[k + 1]], p[starts[k]:starts[k + 1]])
                               for k in range(len(patients))])
            per_repeat.append((y, p, hit, starts, within))
        for b, pick in enumerate(chosen):
            values = []
            for y, p, hit, starts, within in per_repeat:
                rows = np.concatenate([np.arange(starts[k], starts[k + 1]) for k in pick])
                values.append([fast_auc(y[rows], p[rows]), balanced_accuracy(y[rows], hit[rows]),
                               np.nanmean(within[pick]) if np.isfinite(within[pick]).any() else np.nan])
            draws[a][b] = np.mean(values, axis=0)
    return draws


def interval(values: np.ndarray) -> list[float]:
    """The percentile interval of bootstrap draws (nan draws, resamples without both classes, left out)."""
    values = values[~np.isnan(values)]
    if not len(values):
        return [float("nan"), float("nan")]
    return [float(np.quantile(values, (1 - LEVEL) / 2)), float(np.quantile(values, (1 + LEVEL) / 2))]


def fold_interval(frame: pd.DataFrame, a: str, b: str, metric: str) -> list[float]:
    """A t-interval of the mean per-fold difference b - a over folds x repeats: the training variance."""
    diffs = []
    for _, unit in frame.groupby(["repeat", "fold"]):
        sa, sb = scores(unit[unit["arm"] == a]), scores(unit[unit["arm"] == b])
        diffs.append(sb[metric] - sa[metric])
    diffs = np.array([d for d in diffs if not np.isnan(d)])
    if len(diffs) < 2:
        return [float("nan"), float("nan")]
    half = stats.t.ppf((1 + LEVEL) / 2, len(diffs) - 1) * diffs.std(ddof=1) / np.sqrt(len(diffs))
    return [float(diffs.mean() - half), float(diffs.mean() + half)]


def decidable(frame: pd.DataFrame) -> tuple[bool, str]:
    """Enough test patients for a verdict: at least MIN_TEST_PATIENTS, and each class from more than one."""
    n = frame["patient"].nunique()
    per_class = frame.groupby("label")["patient"].nunique()
    if n < MIN_TEST_PATIENTS:
        return False, f"{n} test patients (at least {MIN_TEST_PATIENTS} needed)"
    if per_class.min() < 2 or len(per_class) < 2:
        return False, "one class comes from a single patient"
    return True, f"{n} test patients"


def verdict(ci: list[float], ok: bool) -> str:
    """What the patient-bootstrap interval of a difference says."""
    if not ok:
        return "too few patients"
    if np.isnan(ci[0]):
        return "inconclusive"
    return "supported" if ci[0] > 0 else "not supported" if ci[1] < 0 else "inconclusive"


def compare(frame: pd.DataFrame, arms: list[str], pairs: list[tuple[str, str]],
            rng: np.random.Generator) -> dict | None:
    """Every arm's scores with intervals, and each pair's difference (second minus first) with its patient
    interval (`ci`), its training interval over folds (`seed_ci`) and a verdict; None before any fold has every
    arm."""
    frame = complete(frame, arms)
    if frame.empty:
        return None
    draws = shared_bootstrap(frame, arms, rng)
    ok, reason = decidable(frame)
    out = {"arms": {}, "differences": {}, "decidable": ok, "reason": reason}
    for a in arms:
        s = scores(frame[frame["arm"] == a])
        out["arms"][a] = {m: {"estimate": s[m], "ci": interval(draws[a][:, k])} for k, m in enumerate(METRICS)}
    for a, b in pairs:
        sa, sb = scores(frame[frame["arm"] == a]), scores(frame[frame["arm"] == b])
        out["differences"][f"{b} - {a}"] = {
            m: {"estimate": sb[m] - sa[m], "ci": (ci := interval(draws[b][:, k] - draws[a][:, k])),
                "seed_ci": fold_interval(frame, a, b, m), "verdict": verdict(ci, ok)}
            for k, m in enumerate(METRICS)}
    out["design"] = design(frame)
    timed = frame.groupby(["arm", "repeat", "fold"])["train_seconds"].first()
    out["wall_seconds"] = float(timed.sum())  # training time of the units that recorded it
    out["units_untimed"] = int(timed.isna().sum())  # units restored from the OOF table of an earlier run
    return out


def design(frame: pd.DataFrame) -> dict:
    """folds, repeats, the cohort's patients and the test patients these results cover."""
    return {"folds": FOLDS, "repeats": int(frame["repeat"].nunique()), "n_patients": N_PATIENTS,
            "n_test_patients": int(frame["patient"].nunique()),
            "folds_done": int(frame.groupby(["repeat", "fold"]).ngroups)}


def write(name: str, what: str, result: dict | None, budget: dict) -> None:
    """docs/measurements/<name>-cohort.json, unless no fold has every compared arm yet (None: kept as it is)."""
    if result is None:
        print(name, "no fold with every arm yet: its file is left as it is")
        return
    payload = {"what": what, "budget": budget, **result,
               "command": "nice -n 5 .venv/bin/python docs/measurements/cohort_crossval.py [--stain] [--defaults] "
                          "[--cnn-budget] && "
                          ".venv/bin/python docs/measurements/cohort_summary.py",
               "machine": f"{platform.machine()}, 2 CPU cores shared with other jobs",
               "statistics": f"patient bootstrap ({N_BOOT} draws, one draw shared by every arm), seed_ci: t-interval "
                             "over folds x repeats; verdicts from `ci`"}
    (OUT / f"{name}-cohort.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(name, json.dumps({k: {m: [round(v["estimate"], 3), [round(x, 3) for x in v["ci"]], v["verdict"]]
                                for m, v in d.items()} for k, d in result["differences"].items()}, indent=1))


if __name__ == "__main__":
    sys.path.insert(0, str(OUT))
    from cohort_crossval import (  # imports bc_helpers.training.crossval: TensorFlow, once
        ADOPTED_ARM,
        CNN_ARMS,
        DEFAULT_ARMS,
        DESIGN,
    )

    runs = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "runs" / "cohort-crossval")
    frame = read_units(runs)
    FOLDS, N_PATIENTS = DESIGN.folds, 213
    frame[["arm", "path", "patient", "label", "true_label", "probability", "threshold", "fold", "repeat"]].assign(
        probability=lambda f: f["probability"].round(5), threshold=lambda f: f["threshold"].round(5),
    ).to_csv(OUT / "cohort-crossval-oof.csv.gz", index=False)
    budget = {"epochs": DESIGN.epochs, "batch_size": DESIGN.batch_size, "balance": DESIGN.balance,
              "learning_rate": DESIGN.learning_rate, "patience": DESIGN.patience, "augment": DESIGN.augment}
    rng = np.random.default_rng(SEED)
    write("ablation", "CNN-LSTM against the matched CNN (LSTM -> dense of matched capacity) and the row-shuffled "
          "CNN-LSTM, patient regime, the same test images", compare(frame, ["cnn_lstm", "cnn_matched",
          "cnn_lstm_shuffled"], [("cnn_matched", "cnn_lstm"), ("cnn_lstm_shuffled", "cnn_lstm")], rng), budget)
    write("leak", "the leak of an image split: each model trained by patient and by image (an image-level split "
          "of every image but the fold's test images), scored on the same test images with the same threshold rule",
          compare(frame, ["cnn_patient", "cnn_image", "cnn_lstm", "cnn_lstm_image"],
                  [("cnn_patient", "cnn_image"), ("cnn_lstm", "cnn_lstm_image")], rng), budget)
    write("random-labels", "the random-label control: every patient one random label (class shares kept, drawn "
          "independent of the true class within each fold); CNN trained by patient and by image, scored against the "
          "random labels",
          compare(frame, ["cnn_random_patient", "cnn_random_image"], [("cnn_random_patient", "cnn_random_image")],
                  rng), budget)
    changes = [arm.name for arm in DEFAULT_ARMS]
    if set(changes) <= set(frame["arm"]):
        together = [ADOPTED_ARM.name] if ADOPTED_ARM.name in set(frame["arm"]) else []
        result = compare(frame, ["cnn_lstm", *changes, *together], [("cnn_lstm", c) for c in changes + together],
                         rng)
        if result is not None and together:
            result["together"] = ADOPTED_ARM.name  # the adopted changes measured at once: not a change of its own
        write("defaults", "the CNN-LSTM's training budget, one change at a time against the ablation's cnn_lstm "
              "(budget below), and the adopted changes together: " +
              "; ".join(f"{a.name}: {a.budget}" for a in [*DEFAULT_ARMS, ADOPTED_ARM]), result, budget)
    if {"cnn_lstm_stain_augment", "cnn_lstm_stain_normalise"} <= set(frame["arm"]):
        write("stain", "the CNN-LSTM with stain none, augment (H&E jitter) and normalise (Reinhard), patient regime",
              compare(frame, ["cnn_lstm", "cnn_lstm_stain_augment", "cnn_lstm_stain_normalise"],
                      [("cnn_lstm", "cnn_lstm_stain_augment"), ("cnn_lstm", "cnn_lstm_stain_normalise")], rng),
              budget)
    cnn_budgets = [arm.name for arm in CNN_ARMS]
    if set(cnn_budgets) <= set(frame["arm"]):
        write("cnn-budget", "the CNN at notebook 03's budget (10 epochs, otherwise the budget below) against the CNN "
              "at the budget adopted for the CNN-LSTM: " + "; ".join(f"{a.name}: {a.budget}" for a in CNN_ARMS),
              compare(frame, cnn_budgets, [tuple(cnn_budgets)], rng), budget)
