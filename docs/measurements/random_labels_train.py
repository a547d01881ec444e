"""The random-label control through `python -m bc_helpers train --labels random` (CNN, 5 epochs, defaults
otherwise): the image-level split on ../shared/data/idc_sample (14 patients, about 500 patches each) at seeds 0
and 1, and the patient split on ../shared/data/idc_cohort (213 patients, 29 patches each) at seeds 0 and 1.

Run from the repository root, with ../shared beside it (resumable: a finished run is reused):
    .venv/bin/python docs/measurements/random_labels_train.py [RUN_ROOT]
Writes docs/measurements/random-labels-train.json: each run's labels, control flag, ROC-AUC with its interval by
patient, balanced accuracy, test patients and training seconds, and the CPU it ran on.
"""

import json
import platform
import subprocess
import sys
from pathlib import Path

from bc_helpers.runs.folders import RunFolder

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
RUNS = [("idc_sample", "paper", 0), ("idc_sample", "paper", 1), ("idc_cohort", "patient", 0),
        ("idc_cohort", "patient", 1)]


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else the machine type."""
    info = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in info.read_text().splitlines()
             if line.startswith("model name")] if info.is_file() else []
    return f"{names[0]} x {len(names)}" if names else platform.machine()


def train(out: Path, data: str, protocol: str, seed: int) -> None:
    """One control run (skipped when its metrics exist)."""
    if (out / "metrics.json").is_file():
        return
    subprocess.run([sys.executable, "-m", "bc_helpers", "train", "--dataset", "idc", "--data-dir", str(DATA / data),
                    "--model", "cnn", "--epochs", "5", "--protocol", protocol, "--labels", "random", "--seed",
                    str(seed), "--if-exists", "reuse", "--quiet", "--out", str(out)], check=True)


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "runs" / "random-labels-train")
    rows = []
    for data, protocol, seed in RUNS:
        out = root / f"{data}-{protocol}-{seed}"
        train(out, data, protocol, seed)
        m = json.loads((out / "metrics.json").read_text())
        test = sorted(RunFolder(out).read_predictions("test")["patient"].unique())
        rows.append({"data": data, "protocol": protocol, "seed": seed, "labels": m.get("labels"),
                     "control": m.get("control", False), "roc_auc": m["roc_auc"], "roc_auc_ci": m["ci"]["roc_auc"],
                     "balanced_accuracy": m["balanced_accuracy"], "n_patients": m["n_patients"],
                     "test_patients": test, "train_seconds": round(m["timing"]["train_seconds"], 1)})
    image = [r["roc_auc"] for r in rows if r["data"] == "idc_sample"]
    summary = {"what": __doc__.split("\n\n")[0].replace("\n", " "), "runs": rows,
               "idc_sample_image_split_mean_roc_auc": sum(image) / len(image),
               "cpu": cpu_model()}
    (ROOT / "docs" / "measurements" / "random-labels-train.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
