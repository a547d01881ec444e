"""Collect finished runs into tables: the paper's Tables 3-4 beside ours, the leakage study, the costs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from . import paper
from .ablation import ABLATION_DIR
from .models import MODEL_NAMES
from .runs import MODEL_NOTEBOOKS

COLUMNS = ["accuracy", "sensitivity", "specificity", "f1", "balanced_accuracy", "roc_auc", "pr_auc"]


def collect_runs(root: str | Path) -> pd.DataFrame:
    """One row per finished run under `root` (the newest when a setting was run more than once); the extra
    arms of notebook 08's ablation (in `ablation` folders) are read from its ablation.json instead."""
    rows = []
    for path in sorted(Path(root).rglob("metrics.json")):
        m = json.loads(path.read_text())
        if "model" not in m or ABLATION_DIR in path.relative_to(root).parts:
            continue
        row = {k: m[k] for k in ("dataset", "protocol", "model", *COLUMNS, "threshold", "n_images", "n_patients")}
        row.update(
            roc_auc_ci=tuple(m["ci"]["roc_auc"]), balanced_accuracy_ci=tuple(m["ci"]["balanced_accuracy"]),
            patient_roc_auc=m["patient_level"]["roc_auc"], epochs_run=m["epochs_run"],
            seconds_per_epoch=m["timing"]["seconds_per_epoch"], train_images=m["timing"]["train_images"],
            inference_ms_per_image=m["timing"]["inference_ms_per_image"], synthetic=m["synthetic"],
            leak=m["leak"]["test_images_with_patient_in_train"], run_dir=str(path.parent),
            finished=path.stat().st_mtime,
        )
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["dataset", "protocol", "model", *COLUMNS])
    frame = frame.sort_values("finished").drop_duplicates(["dataset", "protocol", "model"], keep="last")
    order = {name: i for i, name in enumerate(MODEL_NAMES)}
    return frame.sort_values(["dataset", "protocol", "model"], key=lambda s: s.map(order) if s.name == "model"
                             else s).reset_index(drop=True)


def missing_runs(runs: pd.DataFrame, datasets: list[str], protocols: list[str]) -> list[str]:
    """A line per expected run that is not there, naming the notebook (and parameters) that makes it."""
    have = set() if runs.empty else set(zip(runs["dataset"], runs["protocol"], runs["model"], strict=True))
    return [f"{d} / {p} / {m}: run notebooks/{MODEL_NOTEBOOKS[m]}.ipynb with DATASET={d!r}, PROTOCOL={p!r}"
            for d in datasets for p in protocols for m in MODEL_NAMES if (d, p, m) not in have]


def paper_table(runs: pd.DataFrame, dataset: str, protocol: str = "patient") -> pd.DataFrame:
    """The paper's Table 3 (IDC) or 4 (BreaKHis) columns for our runs, the paper's rows beside them."""
    ours = runs[(runs["dataset"] == dataset) & (runs["protocol"] == protocol)]
    ours = ours.set_index("model")[["accuracy", "sensitivity", "specificity", "f1", "balanced_accuracy", "roc_auc"]]
    ours.columns = pd.MultiIndex.from_product([["ours"], ours.columns])
    theirs = paper.RESULTS[paper.RESULTS["dataset"] == paper.PAPER_DATASET[dataset]].set_index("model")
    theirs = theirs.drop(columns="dataset")
    theirs.columns = pd.MultiIndex.from_product([["paper"], theirs.columns])
    return ours.join(theirs, how="left")


def leakage_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The same model and data under the paper's image-level split and under the patient split."""
    if runs.empty:
        return pd.DataFrame()
    wide = runs.pivot_table(index=["dataset", "model"], columns="protocol",
                            values=["roc_auc", "balanced_accuracy", "accuracy"])
    both = [p for p in ("paper", "kaggle") if p in wide.columns.get_level_values(1)]
    if "patient" not in wide.columns.get_level_values(1) or not both:
        return pd.DataFrame()
    out = pd.DataFrame(index=wide.index)
    for metric in ("roc_auc", "balanced_accuracy"):
        out[f"{metric} (patient split)"] = wide[(metric, "patient")]
        out[f"{metric} (image split)"] = wide[(metric, both[0])]
        out[f"{metric} inflation"] = out[f"{metric} (image split)"] - out[f"{metric} (patient split)"]
    return out.dropna().reset_index()


def cost_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Measured time per epoch and per image, scaled to one full IDC epoch, beside the paper's claims."""
    t = runs[runs["protocol"] == "patient"].copy()
    t["images_per_second"] = t["train_images"] / t["seconds_per_epoch"]
    idc_like = t["dataset"].isin(["sample", "idc"])  # 50 px patches: the rate carries over to the full set
    t["full_idc_epoch_minutes"] = (paper.IDC_IMAGES * 0.7 / t["images_per_second"] / 60).where(idc_like)
    t["paper_epoch_minutes"] = t["model"].map(paper.COST["train_seconds_per_epoch"]) / 60
    t["paper_inference_ms"] = paper.COST["inference_ms_per_image"]
    cols = ["dataset", "model", "images_per_second", "seconds_per_epoch", "full_idc_epoch_minutes",
            "paper_epoch_minutes", "inference_ms_per_image", "paper_inference_ms"]
    return t[cols].reset_index(drop=True)
