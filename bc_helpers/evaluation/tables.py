"""Collect finished runs into tables: the paper's Tables 3-4 beside ours, the leakage study, the costs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..data.registry import facts, full_epoch_seconds
from ..runs.catalogue import MODEL_NAMES, MODEL_NOTEBOOKS, in_course_order
from ..runs.folders import ABLATION_DIR, RunFolder, find_runs
from . import paper
from .paired import seed_difference
from .reading import table_reading

COLUMNS = ["accuracy", "sensitivity", "specificity", "f1", "balanced_accuracy", "roc_auc", "pr_auc"]


def collect_runs(root: str | Path, all_seeds: bool = False) -> pd.DataFrame:
    """One row per finished run under `root`: the newest when a setting was run more than once, or with
    `all_seeds` the newest per setting and seed (config.json's train.seed, in the `seed` column). The extra
    arms of notebook 08's ablation (in `ablation` folders) are left out: their ablation.json reports them.
    `reading` holds each run's verdict (reading.table_reading): "collapsed" marks a network that never
    trained, whose ROC-AUC ranks noise and must not sit in a table as if it learned."""
    rows = []
    for run in find_runs(root):
        if ABLATION_DIR in run.path.relative_to(Path(root)).parts:
            continue
        m = run.read_record()
        rows.append(dict(
            dataset=m.dataset, protocol=m.protocol, model=m.model, accuracy=m.accuracy, sensitivity=m.sensitivity,
            specificity=m.specificity, f1=m.f1, balanced_accuracy=m.balanced_accuracy, roc_auc=m.roc_auc,
            pr_auc=m.pr_auc, threshold=m.threshold, n_images=m.n_images, n_patients=m.n_patients,
            roc_auc_ci=m.ci["roc_auc"], balanced_accuracy_ci=m.ci["balanced_accuracy"],
            patient_roc_auc=m.patient_level["roc_auc"], epochs_run=m.epochs_run,
            seconds_per_epoch=m.timing.seconds_per_epoch, train_images=m.timing.train_images,
            inference_ms_per_image=m.timing.inference_ms_per_image, synthetic=m.synthetic,
            leak=m.leak["test_images_with_patient_in_train"], run_dir=str(run.path),
            finished=run.metrics.stat().st_mtime, seed=_run_seed(run), reading=table_reading(run.path),
        ))
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["dataset", "protocol", "model", "seed", *COLUMNS])
    key = ["dataset", "protocol", "model", *(["seed"] if all_seeds else [])]
    frame = frame.sort_values("finished").drop_duplicates(key, keep="last")
    return in_course_order(frame, key)


def _run_seed(run: RunFolder) -> float:
    config = run.read_config()
    return config["train"].get("seed", float("nan")) if config else float("nan")


def missing_runs(runs: pd.DataFrame, datasets: list[str], protocols: list[str]) -> list[str]:
    """A line per expected run that is not there, naming the notebook (and parameters) that makes it."""
    have = set() if runs.empty else set(zip(runs["dataset"], runs["protocol"], runs["model"], strict=True))
    return [f"{d} / {p} / {m}: run notebooks/{MODEL_NOTEBOOKS[m]}.ipynb with DATASET={d!r}, PROTOCOL={p!r}"
            for d in datasets for p in protocols for m in MODEL_NAMES if (d, p, m) not in have]


def paper_table(runs: pd.DataFrame, dataset: str, protocol: str = "patient") -> pd.DataFrame:
    """The paper's Table 3 (IDC) or 4 (BreaKHis) columns for our runs, the paper's rows beside them; our
    `reading` column says which of our runs were recognised, and which collapsed (untrained)."""
    ours = runs[(runs["dataset"] == dataset) & (runs["protocol"] == protocol)]
    ours = ours.set_index("model")[["reading", "accuracy", "sensitivity", "specificity", "f1", "balanced_accuracy",
                                    "roc_auc"]]
    ours.columns = pd.MultiIndex.from_product([["ours"], ours.columns])
    theirs = paper.RESULTS[paper.RESULTS["dataset"] == facts(dataset).paper_dataset].set_index("model")
    theirs = theirs.drop(columns="dataset")
    theirs.columns = pd.MultiIndex.from_product([["paper"], theirs.columns])
    return ours.join(theirs, how="left")


def leakage_table(runs: pd.DataFrame, n_boot: int = 500) -> pd.DataFrame:
    """The same model and data under an image-level split and under the patient split, per dataset and each
    image-level protocol it has: `paper` (the course's assumed reading of the paper's split) for every
    dataset, and `kaggle` (the fixed image-level folders) for BreaKHis-like datasets. Runs are paired by
    seed (`collect_runs(root, all_seeds=True)` gives every seed); the columns give the mean over seeds under
    each split, the inflation (image split - patient split) and its interval: an unpaired bootstrap by
    patient of each seed's two test sets, averaged over seeds (paired.seed_difference, paired=False).
    A dataset is never dropped because another has a different protocol."""
    if runs.empty or "patient" not in set(runs["protocol"]):
        return pd.DataFrame()
    runs = runs.assign(seed=runs["seed"] if "seed" in runs else 0)
    rows = []
    for (dataset, model), group in runs.groupby(["dataset", "model"], sort=False):
        honest = group[group["protocol"] == "patient"]
        for protocol in facts(str(dataset)).image_protocols:
            leaky = group[group["protocol"] == protocol]
            pairs = _seed_pairs(leaky, honest)
            if pairs.empty:
                continue
            row: dict[str, Any] = {"dataset": dataset, "model": model, "image_protocol": protocol,
                                   "n_seeds": len(pairs)}
            for metric in ("roc_auc", "balanced_accuracy"):
                row[f"{metric} (patient split)"] = pairs[f"{metric}_honest"].mean()
                row[f"{metric} (image split)"] = pairs[f"{metric}_leaky"].mean()
                row[f"{metric} inflation"] = row[f"{metric} (image split)"] - row[f"{metric} (patient split)"]
                row[f"{metric} inflation ci"] = _leak_interval(pairs, metric, n_boot)
            rows.append(row)
    return pd.DataFrame(rows)


def _seed_pairs(leaky: pd.DataFrame, honest: pd.DataFrame) -> pd.DataFrame:
    """Leaky and honest runs of one model matched by seed; with no seed in common, the newest run of each."""
    cols = ["seed", "roc_auc", "balanced_accuracy", "run_dir"]
    pairs = leaky[cols].merge(honest[cols], on="seed", suffixes=("_leaky", "_honest"))
    if pairs.empty and not leaky.empty and not honest.empty:  # one run each, of different seeds: the newest
        newest = [frame[cols].tail(1).reset_index(drop=True) for frame in (leaky, honest)]
        pairs = newest[0].add_suffix("_leaky").join(newest[1].add_suffix("_honest"))
    return pairs


def _leak_interval(pairs: pd.DataFrame, metric: str, n_boot: int) -> tuple[float, float]:
    """The interval of the mean inflation; NaN when a run folder has no predictions.csv."""
    folders = list(zip(pairs["run_dir_leaky"], pairs["run_dir_honest"], strict=True))
    if not all(RunFolder(d).predictions.exists() for pair in folders for d in pair):
        return (float("nan"), float("nan"))
    lo, hi = seed_difference(folders, metric, paired=False, n_boot=n_boot)["ci"]
    return (lo, hi)


def cost_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Measured time per epoch and per image, scaled to one pass over all of IDC's images (as `bench` counts a full
    IDC epoch), beside the paper's claims."""
    t = runs[runs["protocol"] == "patient"].copy()
    t["images_per_second"] = t["train_images"] / t["seconds_per_epoch"]
    # IDC-like runs train on 50 px patches, so their rate carries over to the full set.
    idc_like = t["dataset"].map(lambda d: facts(d).paper_dataset == "idc")
    t["full_idc_epoch_minutes"] = (t["images_per_second"].map(full_epoch_seconds) / 60).where(idc_like)
    t["paper_epoch_minutes"] = t["model"].map(paper.COST["train_seconds_per_epoch"]) / 60
    t["paper_inference_ms"] = paper.COST["inference_ms_per_image"]
    cols = ["dataset", "model", "images_per_second", "seconds_per_epoch", "full_idc_epoch_minutes",
            "paper_epoch_minutes", "inference_ms_per_image", "paper_inference_ms"]
    return t[cols].reset_index(drop=True)
