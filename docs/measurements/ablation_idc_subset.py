"""The ablation of notebook 08 (CNN-LSTM against the same CNN without its LSTM) on the real IDC subset, and the
leak of the paper's image-level split for the same CNN-LSTM setting.

Run from the repository root, with ../shared beside it:
    .venv/bin/python docs/measurements/ablation_idc_subset.py [RUN_ROOT]
It trains both arms at seeds 0, 1, 2 (08's defaults otherwise: 5 epochs, smote_hybrid, 50 px, patient split), then
the CNN-LSTM under the paper protocol at the same seeds, and writes docs/measurements/ablation-idc-subset.json:
ablation.json's content, the leak (image split - patient split, an unpaired bootstrap by patient averaged over
seeds, as the leakage table computes it), the wall time and the command.
"""

import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

from bc_helpers.evaluation.ablation import run_ablation
from bc_helpers.evaluation.paired import seed_difference
from bc_helpers.runs import TrainConfig
from bc_helpers.training.trainer import train

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "idc_sample"
SEEDS = [0, 1, 2]

runs = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "runs" / "ablation-idc-subset")
config = TrainConfig(dataset="idc", data_dir=str(DATA), model="cnn_lstm", epochs=5, protocol="patient", seed=0)
started = time.perf_counter()
main = runs / "idc" / "patient" / "cnn_lstm"
train(config, main, if_exists="reuse", verbose=0)
result = run_ablation(config, runs, SEEDS, main)
pairs = []
for honest in result["cnn_lstm"]["per_seed"]:
    leaky = runs / "idc" / "paper" / f"cnn_lstm-seed{honest['seed']}"
    train(replace(config, protocol="paper", seed=honest["seed"]), leaky, if_exists="reuse", verbose=0)
    pairs.append((leaky, honest["run_dir"]))
leak = {metric: seed_difference(pairs, metric, paired=False) for metric in ("roc_auc", "balanced_accuracy")}
out = ROOT / "docs" / "measurements" / "ablation-idc-subset.json"
out.write_text(json.dumps({
    "what": "notebook 08's ablation on ../shared/data/idc_sample (7,082 real patches, 14 patients): CNN-LSTM "
            "against the same CNN without its LSTM, patient split, seeds 0-2, 5 epochs at most, smote_hybrid",
    "command": "cd <repo> && .venv/bin/python docs/measurements/ablation_idc_subset.py",
    "machine": f"{platform.machine()}, 2 CPU cores", "wall_seconds": round(time.perf_counter() - started),
    "ablation": result, "leak": leak}, indent=2, default=str) + "\n")
print(json.dumps({"ablation": result["difference"], "leak": {m: (v["difference"], v["ci"]) for m, v in leak.items()}},
                 indent=2))
