"""VGG-16's three stages (from scratch, head only, fine-tuned) as notebook 06 trains them on the default sample
(v5) with its defaults (the CPU budget: 32 px, 2 epochs, at most 400 training images), seeds 0-2, both datasets.

Run from the repository root (one notebook at a time; about 11 minutes on 2 CPU cores):
    .venv/bin/python docs/measurements/vgg16_stages.py RUNS_DIR
06 runs through papermill with DATASET and SEED set and RUN_DIR=RUNS_DIR/seed-S; a seed whose six stage runs
already hold their metrics.json is read, not run again. Writes docs/measurements/sample-v5-vgg16.json.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

from bc_helpers.evaluation.reading import read_run_result

ROOT = Path(__file__).resolve().parents[2]
DATASETS = ("sample", "sample_breakhis")
STAGES = ("vgg16", "vgg16_head", "vgg16_finetuned")
SEEDS = (0, 1, 2)
KEEP = ("roc_auc", "balanced_accuracy", "sensitivity", "specificity")


def run_notebook(runs: Path, dataset: str, seed: int) -> None:
    out = runs / f"seed-{seed}"
    if all((out / dataset / "patient" / stage / "metrics.json").exists() for stage in STAGES):
        return
    subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "06_vgg16.ipynb"),
                    str(runs / f"06-{dataset}-{seed}.ipynb"), "-p", "DATASET", dataset, "-p", "SEED", str(seed),
                    "-p", "RUN_DIR", str(out), "--log-level", "WARNING"], check=True, cwd=ROOT)


def stage_folder(root: Path, name: str) -> Path:
    """The folder of 06's `name` stage under root (<dataset>/patient). The from-scratch run is the one the head
    stage's settings came from (the same learning rate): beside it may lie the from-scratch run that the other
    dataset's notebook trained as its backbone, with another learning rate, renamed vgg16-2."""
    if name != "vgg16":
        return root / name
    rate = json.loads((root / "vgg16_head" / "config.json").read_text())["train"]["learning_rate"]
    for folder in sorted(root.glob("vgg16*")):
        train = json.loads((folder / "config.json").read_text())["train"]
        if train["hparams"].get("weights") is None and train["learning_rate"] == rate:
            return folder
    raise SystemExit(f"no from-scratch run at the head's learning rate {rate} under {root}")


def stage(folder: Path) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    config = json.loads((folder / "config.json").read_text())["train"]
    reading = read_run_result(folder)
    start = metrics.get("untrained") or {}
    return {"learning_rate": config["learning_rate"], **{k: round(float(metrics[k]), 3) for k in KEEP},
            "roc_auc_ci": [round(float(v), 3) for v in metrics["ci"]["roc_auc"]],
            "threshold_rule": metrics["threshold_rule"], "reading": reading.verdict,
            "untrained_roc_auc": None if not start else round(start["untrained_roc_auc"], 3),
            "training_gain_ci": None if not start.get("ci") else [round(v, 3) for v in start["ci"]]}


def main() -> None:
    runs = Path(sys.argv[1]).resolve()
    for seed in SEEDS:
        for dataset in DATASETS:
            run_notebook(runs, dataset, seed)
    stages = {f"{dataset}/{name}": [
        {"seed": seed, **stage(stage_folder(runs / f"seed-{seed}" / dataset / "patient", name))} for seed in SEEDS]
        for dataset in DATASETS for name in STAGES}
    floor = min(min(r["sensitivity"], r["specificity"]) for rows in stages.values() for r in rows)
    result = {
        "what": "VGG-16's stages as notebook 06 trains them (its defaults: CPU budget, caffe input, the learning rate "
                "its grouped search picks, transfer from the other dataset's from-scratch run), default sample v5, "
                "patient split, seeds 0-2; test-part figures, each stage's reading, and its untrained start",
        "script": "cd <repo> && .venv/bin/python docs/measurements/vgg16_stages.py RUNS_DIR",
        "machine": f"{platform.machine()}, 2 CPU cores",
        "lowest_sensitivity_or_specificity": floor,
        "stages": stages,
    }
    out = ROOT / "docs" / "measurements" / "sample-v5-vgg16.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
