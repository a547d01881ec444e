"""The leak on the built-in synthetic sample, over 3 repeats: `make run`'s leakage study (training.leakstudy: the
CNN and the CNN-LSTM trained by patient and by image on true and on random labels, 2-fold patient-grouped
cross-validation, both regimes scored on the same images with one threshold rule) with 3 repeats instead of 1,
each repeat dealing the patients anew and seeding the training, on both sample datasets.

Run from the repository root after `make setup` (resumable: finished units are kept):
    .venv/bin/python docs/measurements/leak_sample.py [RUN_ROOT]
Writes docs/measurements/leak-sample.json: leakage.json's rows (inflation with its patient interval and, over
the repeats, seed_ci), the design, the sample's spec, the wall time, the units reused from an earlier run (not
timed) and the CPU.
"""

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from random_labels_train import cpu_model  # this folder, on sys.path when run as a script

from bc_helpers.training.leakstudy import STUDY_DESIGN, run_leakage_study

ROOT = Path(__file__).resolve().parents[2]
DESIGN = replace(STUDY_DESIGN, repeats=3)


if __name__ == "__main__":
    runs = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "runs" / "leak-sample")
    started = time.perf_counter()
    reused = len(list(runs.glob("**/units/*.csv")))  # units of an earlier run: read, not trained (nor timed) here
    rows = []
    for dataset in ("sample", "sample_breakhis"):
        rows += json.loads(run_leakage_study(dataset, runs, design=DESIGN).read_text())
    spec = json.loads((ROOT / "data" / "sample" / "sample.json").read_text()).get("spec", {})
    payload = {"what": __doc__.split("\n\n")[0].replace("\n", " "), "design": {"folds": DESIGN.folds,
               "repeats": DESIGN.repeats, "epochs": DESIGN.epochs}, "sample_spec": spec, "rows": rows,
               "wall_seconds": round(time.perf_counter() - started, 1), "units_reused": reused, "cpu": cpu_model()}
    (ROOT / "docs" / "measurements" / "leak-sample.json").write_text(json.dumps(payload, indent=2) + "\n")
    for r in rows:
        i = r["inflation"]["roc_auc"]
        print(f"{r['dataset']:16s} {r['model']:9s} {r['labels']:6s} patient {r['patient']['roc_auc']:.3f} image "
              f"{r['image']['roc_auc']:.3f} inflation {i['estimate']:+.3f} [{i['ci'][0]:+.3f}, {i['ci'][1]:+.3f}] "
              f"seeds [{i['seed_ci'][0]:+.3f}, {i['seed_ci'][1]:+.3f}]")
