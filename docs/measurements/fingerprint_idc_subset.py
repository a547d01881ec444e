"""The stain-fingerprint control (bc_helpers.training.fingerprint) on the real IDC subset: how much an image-level split
rewards a classifier that can only recognise patients by the colour of their slide.

Run from the repository root, with ../shared beside it:
    .venv/bin/python docs/measurements/fingerprint_idc_subset.py [RUN_ROOT]
It runs the control at seeds 0, 1, 2 under the patient split and under the paper protocol (the course's reading of
the paper's image-level split), and writes docs/measurements/fingerprint-idc-subset.json: each run's test
ROC-AUC and balanced accuracy, the leak (image split - patient split, an unpaired bootstrap by patient averaged
over seeds, as the leakage table computes it), the wall time and the command.
"""

import json
import platform
import sys
import time
from pathlib import Path

from bc_helpers.evaluation.paired import seed_difference
from bc_helpers.runs import TrainConfig
from bc_helpers.training.fingerprint import run_fingerprints

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "idc_sample"
SEEDS = [0, 1, 2]

runs = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "runs" / "fingerprint-idc-subset")
started = time.perf_counter()
results = {protocol: run_fingerprints(TrainConfig(dataset="idc", data_dir=str(DATA), protocol=protocol), runs, SEEDS)
           for protocol in ("patient", "paper")}
pairs = [(leaky["run_dir"], honest["run_dir"]) for leaky, honest in zip(results["paper"], results["patient"],
                                                                          strict=True)]
leak = {metric: seed_difference(pairs, metric, paired=False) for metric in ("roc_auc", "balanced_accuracy")}
out = ROOT / "docs" / "measurements" / "fingerprint-idc-subset.json"
out.write_text(json.dumps({
    "what": "the stain fingerprint (k-nearest neighbours, k=15, on each patch's 75th and 95th percentile of each "
            "RGB channel) on ../shared/data/idc_sample (7,082 real patches, 14 patients), patient split against "
            "the paper protocol, seeds 0-2",
    "command": "cd <repo> && .venv/bin/python docs/measurements/fingerprint_idc_subset.py",
    "machine": f"{platform.machine()}, 2 CPU cores", "wall_seconds": round(time.perf_counter() - started),
    "runs": {protocol: [{"seed": seed} | {k: m[k] for k in ("roc_auc", "balanced_accuracy", "n_patients", "run_dir")}
                        for seed, m in zip(SEEDS, ms, strict=True)]
             for protocol, ms in results.items()},
    "leak": leak}, indent=2, default=str) + "\n")
print(json.dumps({m: (round(v["difference"], 3), [round(x, 3) for x in v["ci"]]) for m, v in leak.items()}))
