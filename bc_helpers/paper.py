"""What Kaddes et al. (Sci Rep 2025) report, for tables that put their numbers beside ours."""

from __future__ import annotations

import pandas as pd

# Tables 3 and 4 as published. Their "AUC" is Eq. 5, (sensitivity + specificity) / 2: balanced accuracy.
# Identical accuracy / sensitivity / specificity columns are what support-weighted averages give.
RESULTS = pd.DataFrame(
    [
        ("idc", "cnn_lstm", 0.9917, 0.9917, 0.9917, 0.9917, 0.995),
        ("idc", "resnet50", 0.8926, 0.8926, 0.8926, 0.8926, 0.887),
        ("breakhis", "cnn_lstm", 0.9990, 0.9990, 0.9990, 0.9980, 1.000),
        ("breakhis", "resnet50", 0.9147, 0.9147, 0.9147, 0.9148, 0.917),
    ],
    columns=["dataset", "model", "accuracy", "sensitivity", "specificity", "f1", "balanced_accuracy"],
)
NOTE = "The paper gives only its best (CNN-LSTM) and lowest (ResNet-50) rows; CNN, LSTM, GRU and VGG-16 lie between."

COST = {"train_seconds_per_epoch": {"cnn_lstm": 7200.0, "cnn": 3600.0, "lstm": 3600.0}, "inference_ms_per_image": 50.0}
IDC_IMAGES = 277_524

# Published patient-level results on the IDC test patients (Cruz-Roa 2014 split).
PATIENT_LEVEL_BASELINES = pd.DataFrame(
    [("Cruz-Roa et al. 2014", 0.842, 0.718), ("Janowczyk & Madabhushi 2016", 0.847, 0.765),
     ("Romero et al. 2019", 0.890, 0.897)],
    columns=["study", "balanced_accuracy", "f1"],
)
