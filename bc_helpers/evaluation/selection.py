"""Choosing finished runs by their settings (config.json), not by which ran last, and showing those settings."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..runs.catalogue import in_course_order
from ..runs.folders import ABLATION_DIR, ABLATION_FILE, RunFolder, find_runs
from .tables import collect_runs

SHOWN = ("epochs", "image_size", "batch_size", "learning_rate", "balance", "seed", "max_train_images", "hparams")


def run_settings(root: str | Path) -> pd.DataFrame:
    """One row per finished run folder under `root` (ablation arms aside): its config.json's training settings,
    the folder, and when it finished."""
    rows = []
    for run in find_runs(root):
        if ABLATION_DIR in run.path.relative_to(Path(root)).parts:
            continue
        train = (run.read_config() or {}).get("train")
        if train:
            rows.append({**train, "run_dir": str(run.path), "finished": run.metrics.stat().st_mtime})
    return pd.DataFrame(rows)


def select_runs(root: str | Path, **settings: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs whose settings match `settings` (e.g. seed=0, balance="smote_hybrid"; a None value matches any),
    one for each dataset, protocol and model, as compare.collect_runs rows; and the runs left out, with the
    reason. A model's main run
    (its folder named as the model, e.g. vgg16/) comes before its later stages (vgg16_head/, vgg16_finetuned/,
    which notebook 06 compares); among runs of equal standing the newest is used."""
    settings = {k: v for k, v in settings.items() if v is not None}  # None: any value of that setting
    table = run_settings(root)
    if table.empty:
        return collect_runs(root).iloc[0:0], pd.DataFrame(columns=["run_dir", "reason"])
    reasons = table.apply(lambda row: "; ".join(f"{k}={row[k]!r}, not {v!r}" for k, v in settings.items()
                                                 if row[k] != v), axis=1)
    differs = reasons != ""
    matching = table[~differs]
    matching = matching.assign(main=[Path(d).name == m for d, m in zip(matching["run_dir"], matching["model"],
                                                                        strict=True)])
    matching = matching.sort_values(["main", "finished"])
    newest = matching.drop_duplicates(["dataset", "protocol", "model"], keep="last")
    older = matching.drop(newest.index)
    used_main = newest.set_index(["dataset", "protocol", "model"])["main"].to_dict()
    stage = [not row["main"] and used_main[(row["dataset"], row["protocol"], row["model"])]
             for _, row in older.iterrows()]
    left_out = pd.concat([
        pd.DataFrame({"run_dir": table.loc[differs, "run_dir"], "reason": "other settings: " + reasons[differs]}),
        pd.DataFrame({"run_dir": older["run_dir"],
                      "reason": ["another stage of the model (its main run is used)" if s else
                                 "a newer run of the same settings is used" for s in stage]}),
    ], ignore_index=True)
    chosen = [collect_runs(folder) for folder in newest["run_dir"]]
    runs = pd.concat(chosen, ignore_index=True) if chosen else collect_runs(root).iloc[0:0]
    return _ordered(runs), left_out


def _ordered(runs: pd.DataFrame) -> pd.DataFrame:
    """By dataset, protocol, then the models in the course's order."""
    return in_course_order(runs, ["dataset", "protocol", "model"])


def settings_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The settings each selected run was trained with, one row per run: what the comparison compares."""
    rows = []
    for _, run in runs.iterrows():
        train = (RunFolder(run["run_dir"]).read_config() or {})["train"]
        rows.append({"dataset": run["dataset"], "protocol": run["protocol"], "model": run["model"],
                     **{k: _shown(k, train[k]) for k in SHOWN},
                     "epochs_run": run["epochs_run"]})
    return pd.DataFrame(rows)


def _shown(key: str, value: object) -> object:
    """A setting as the table shows it: hyperparameters as text, a learning rate in full (1e-05, not 0.000)."""
    if key == "hparams":
        return str(value)
    return f"{value:g}" if key == "learning_rate" and isinstance(value, float) else value


def ablation_results(root: str | Path) -> list[dict]:
    """Every ablation.json under `root` (one per dataset and protocol that notebook 08 ran)."""
    return [json.loads(path.read_text()) for path in sorted(Path(root).rglob(ABLATION_FILE))]


def seed_runs(root: str | Path) -> pd.DataFrame:
    """The runs of every seed of 08's ablation (both arms), as compare.collect_runs rows with a `seed` column:
    the same CNN and CNN-LSTM settings under each protocol, so the leak can be measured over seeds."""
    rows = []
    for result in ablation_results(root):
        for arm in ("cnn", "cnn_lstm"):
            for run in result[arm]["per_seed"]:
                rows.append(collect_runs(run["run_dir"]).assign(seed=run["seed"]))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def leakage_runs(root: str | Path) -> pd.DataFrame:
    """The runs the leakage study compares: every seed of 08's ablation when it ran (seed_runs), else every
    finished run with its seed (collect_runs(all_seeds=True))."""
    seeds = seed_runs(root)
    return seeds if not seeds.empty else collect_runs(root, all_seeds=True)


def ablation_table(root: str | Path) -> pd.DataFrame:
    """One row per dataset and protocol: each arm's mean over seeds, the difference, its interval and verdict."""
    rows = []
    for result in ablation_results(root):
        row = {"dataset": result["config"]["dataset"], "protocol": result["config"]["protocol"],
               "seeds": str(result["seeds"])}
        for metric, d in result["difference"].items():
            low, high = d["ci"]
            row |= {f"{metric} cnn": result["cnn"][metric], f"{metric} cnn_lstm": result["cnn_lstm"][metric],
                    f"{metric} difference": d["estimate"], f"{metric} 95% CI": (low, high),
                    f"{metric} verdict": d["verdict"]}
        rows.append(row)
    return pd.DataFrame(rows)
