"""The cohort's measurements, by repeated patient-grouped cross-validation on ../shared/data/idc_cohort (213 patients,
7,382 real IDC patches): every arm of a fold is scored on that fold's test images.

Arms (one thing differs between any two that are compared):
- the ablation: cnn_lstm, cnn_matched (LSTM replaced by a dense layer of matched capacity), cnn_lstm_shuffled
  (the LSTM fed the rows in one fixed random order), all under the patient regime;
- the leak: cnn and cnn_lstm, patient regime against image regime (an image-level split of every image but the
  fold's test images);
- the random-label control: cnn on random patient labels, patient and image regimes;
- the stain options: cnn_lstm with stain none (the ablation's arm), augment, normalise;
- the CNN-LSTM's defaults (--defaults): the ablation's cnn_lstm against one change of its training budget at a
  time (10 epochs instead of 5, learning rate 1e-4 instead of 1e-3, class weights instead of smote_hybrid, no
  augmentation), and the changes adopted by the rule of claims.adopted_changes together (cnn_lstm_adopted), which
  notebook 08's defaults follow;
- the CNN's budget (--cnn-budget): the CNN at 03's budget (10 epochs) against the CNN at the CNN-LSTM's adopted
  budget.

Run from the repository root (resumable: finished folds are skipped; the out-of-fold tables live in RUN_DIR):
    nice -n 5 .venv/bin/python docs/measurements/cohort_crossval.py [RUN_DIR] [--stain] [--defaults] [--cnn-budget]
    [--summarise]
`--summarise` only reads the tables and writes docs/measurements/cohort-crossval-oof.csv.gz (every out-of-fold
prediction) and the JSON files, by cohort_summary.py.
"""

import sys
import time
from pathlib import Path

from bc_helpers.data.cache import load_images, storage_size
from bc_helpers.data.datasets import index_dataset
from bc_helpers.training.crossval import Arm, Design, run_crossval

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "idc_cohort"
DESIGN = Design(folds=5, repeats=1, seed=0, epochs=5)
# One comparison at a time, each over every fold before the next starts (so a partial run holds whole
# comparisons): the ablation, then the leak, then the random-label control.
GROUPS = [
    [Arm("cnn_lstm", "cnn_lstm"), Arm("cnn_matched", "cnn_matched"), Arm("cnn_lstm_shuffled", "cnn_lstm_shuffled")],
    [Arm("cnn_patient", "cnn"), Arm("cnn_image", "cnn", "image"), Arm("cnn_lstm_image", "cnn_lstm", "image")],
    [Arm("cnn_random_patient", "cnn", "patient", "random"), Arm("cnn_random_image", "cnn", "image", "random")],
]
ARMS = [arm for group in GROUPS for arm in group]
# The stain options come after the rest has covered every fold (--stain): on 2 shared CPU cores a unit takes
# about 2-3 minutes, and the ablation, the leak and the control come first.
STAIN_ARMS = [
    Arm("cnn_lstm_stain_augment", "cnn_lstm", stain="augment"),
    Arm("cnn_lstm_stain_normalise", "cnn_lstm", stain="normalise"),
]
# One change of the training budget per arm, against the ablation's cnn_lstm (DESIGN's budget).
DEFAULT_ARMS = [
    Arm("cnn_lstm_epochs_10", "cnn_lstm", budget={"epochs": 10}),
    Arm("cnn_lstm_lr_1e-4", "cnn_lstm", budget={"learning_rate": 1e-4}),
    Arm("cnn_lstm_class_weight", "cnn_lstm", budget={"balance": "class_weight"}),
    Arm("cnn_lstm_no_augment", "cnn_lstm", budget={"augment": False}),
]
# The changes that the rule adopted one at a time (claims.adopted_changes), measured together: their sum is not
# measured by the four arms above.
ADOPTED_ARM = Arm("cnn_lstm_adopted", "cnn_lstm", budget={"epochs": 10, "balance": "class_weight", "augment": False})
# The CNN's budget (--cnn-budget): 03's (10 epochs, smote_hybrid, augmentation) against the budget adopted for the
# CNN-LSTM (ADOPTED_ARM's): does the budget chosen for the CNN-LSTM also serve the CNN?
CNN_ARMS = [Arm("cnn_epochs_10", "cnn", budget={"epochs": 10}), Arm("cnn_adopted", "cnn", budget=ADOPTED_ARM.budget)]

if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    runs = Path(args[0] if args else ROOT / "runs" / "cohort-crossval")
    if "--summarise" not in sys.argv:
        index = index_dataset("idc", DATA)
        images = load_images(index, storage_size(index, DESIGN.image_size))
        started = time.perf_counter()
        for group in GROUPS:
            run_crossval(index.table, images, group, DESIGN, runs)
        if "--stain" in sys.argv:
            run_crossval(index.table, images, ARMS + STAIN_ARMS, DESIGN, runs)
        if "--defaults" in sys.argv:
            run_crossval(index.table, images, DEFAULT_ARMS, DESIGN, runs)
            run_crossval(index.table, images, [ADOPTED_ARM], DESIGN, runs)
        if "--cnn-budget" in sys.argv:
            run_crossval(index.table, images, CNN_ARMS, DESIGN, runs)
        print(f"done in {time.perf_counter() - started:.0f} s", flush=True)
