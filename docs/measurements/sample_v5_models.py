"""The CNN and CNN-LSTM on the default synthetic sample (v5), patient split, each with its notebook's training budget
(03 and 08: 10 epochs, class weights, no augmentation), seeds 0-2.

Run from the repository root (one training at a time; about 15 minutes on 2 CPU cores):
    .venv/bin/python docs/measurements/sample_v5_models.py SAMPLE_DIR RUNS_DIR
SAMPLE_DIR holds the default sample (`python -m bc_helpers sample --out SAMPLE_DIR`); each run goes to
RUNS_DIR/<dataset>-<model>-<seed>, and a run that already has its metrics.json is read, not trained again.
Writes docs/measurements/sample-v5-models.json.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from bc_helpers.data.sample import SampleSpec

ROOT = Path(__file__).resolve().parents[2]
RUNS = (("sample", "cnn", "idc"), ("sample", "cnn_lstm", "idc"), ("sample_breakhis", "cnn_lstm", "breakhis"))
# Each model's budget as its notebook sets it: 08's was chosen on the real cohort (defaults-cohort.json), and 03
# takes it too (cnn-budget-cohort.json).
ADOPTED = ["--epochs", "10", "--balance", "class_weight", "--no-augment"]
BUDGET = {"cnn": ADOPTED, "cnn_lstm": ADOPTED}
SEEDS = (0, 1, 2)
KEEP = ("roc_auc", "balanced_accuracy", "sensitivity", "specificity")


def run(sample: Path, runs: Path, dataset: str, model: str, folder: str, seed: int) -> dict:
    out = runs / f"{dataset}-{model}-{seed}"
    if not (out / "metrics.json").exists():
        subprocess.run([sys.executable, "-m", "bc_helpers", "train", "--model", model, "--dataset", dataset,
                        "--data-dir", str(sample / folder), "--seed", str(seed), "--out", str(out), "--quiet",
                        *BUDGET[model]],
                       check=True)
    metrics = json.loads((out / "metrics.json").read_text())
    return {"seed": seed, **{k: round(float(metrics[k]), 3) for k in KEEP},
            "threshold_rule": metrics["threshold_rule"], "epochs_run": int(metrics["epochs_run"])}


def main() -> None:
    sample, runs = Path(sys.argv[1]), Path(sys.argv[2])
    spec = json.loads((sample / "sample.json").read_text())["spec"]
    if spec != json.loads(json.dumps(asdict(SampleSpec()))):
        raise SystemExit(f"{sample} is not the default sample: regenerate it")
    result = {
        "what": "CNN and CNN-LSTM on the default sample v5 (seed-0 spec), patient split with each notebook's "
                "training budget, seeds 0-2 (the seed also draws the split); test-part figures",
        "command": "python -m bc_helpers train --model cnn|cnn_lstm --dataset sample|sample_breakhis --data-dir "
                   "<sample>/idc|<sample>/breakhis --seed S --out RUN --quiet --epochs 10 --balance class_weight "
                   "--no-augment",
        "script": "cd <repo> && .venv/bin/python docs/measurements/sample_v5_models.py SAMPLE_DIR RUNS_DIR",
        "machine": f"{platform.machine()}, 2 CPU cores shared with other jobs",
        "spec": spec,
        "runs": {f"{dataset}/{model}": [run(sample, runs, dataset, model, folder, seed) for seed in SEEDS]
                 for dataset, model, folder in RUNS},
    }
    out = ROOT / "docs" / "measurements" / "sample-v5-models.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
