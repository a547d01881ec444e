"""What Kaddes et al. (Sci Rep 2025) report, for tables that put their numbers beside ours."""

from __future__ import annotations

from typing import TypedDict

import pandas as pd

# Tables 3 and 4 as published (the best and lowest rows; see NOTE). The paper's "AUC" column and its Eq. 5 disagree:
# - its Eq. 5 defines "AUC" as (sensitivity + specificity) / 2, i.e. balanced accuracy, which its own columns give
#   (0.9917 from 99.17% and 99.17%);
# - its reported values are not that mean (0.995; 0.887 beside 89.26%), and its Figs 9-10 are ROC curves: read as
#   the area under them, the reported values are a ROC-AUC.
# So balanced_accuracy is Eq. 5 applied to the paper's own columns and roc_auc is its reported "AUC"; AUC_READINGS
# says why.
RESULTS = pd.DataFrame(
    [
        ("idc", "cnn_lstm", 0.9917, 0.9917, 0.9917, 0.9917, 0.995),
        ("idc", "resnet50", 0.8926, 0.8926, 0.8926, 0.8926, 0.887),
        ("breakhis", "cnn_lstm", 0.9990, 0.9990, 0.9990, 0.9980, 1.000),
        ("breakhis", "resnet50", 0.9147, 0.9147, 0.9147, 0.9148, 0.917),
    ],
    columns=["dataset", "model", "accuracy", "sensitivity", "specificity", "f1", "roc_auc"],
)
RESULTS["balanced_accuracy"] = (RESULTS["sensitivity"] + RESULTS["specificity"]) / 2
AUC_READINGS = {
    "balanced_accuracy": "the paper's Eq. 5, (sensitivity + specificity) / 2, applied to its own sensitivity and "
                         "specificity columns",
    "roc_auc": "the paper's reported \"AUC\": its values differ from the mean of its own sensitivity and specificity "
               "(0.995 against 99.17%, 0.887 against 89.26%), and its Figs 9-10 are ROC curves: the values read as "
               "areas under them",
}
NOTE = ("The paper's Tables 3-4 list every model (CNN, LSTM, GRU, VGG-16, ResNet-50, CNN-LSTM), but as images, "
        "not text; the course's notes on the paper (notebooks/paper_notes.md) transcribe only the best (CNN-LSTM) "
        "and lowest (ResNet-50) rows, so only those are filled in here. Its balanced accuracy is its Eq. 5 applied to "
        "its own sensitivity and specificity; its reported \"AUC\" is shown as ROC-AUC (its values and Figs 9-10).")
# The paper never states how it split its data. The "paper" protocol (a stratified image-level 70/15/15 split)
# is this course's assumption of what an unstated split most likely was; "kaggle" (BreaKHis) is the
# dataset's own image-level folder split.
PROTOCOL_NOTE = ("The 'paper' protocol, a stratified image-level 70/15/15 split, is this course's assumption: "
                 "the paper does not state its split. Both it and BreaKHis's 'kaggle' folders are image-level.")



class Cost(TypedDict):
    """The paper's claimed costs: seconds per training epoch by model, milliseconds per image at inference."""

    train_seconds_per_epoch: dict[str, float]
    inference_ms_per_image: float


COST: Cost = {"train_seconds_per_epoch": {"cnn_lstm": 7200.0, "cnn": 3600.0, "lstm": 3600.0},
              "inference_ms_per_image": 50.0}
# Where the IDC patient counts come from. The source study (Janowczyk & Madabhushi 2016; Cruz-Roa et al. 2014)
# cut the patches from 162 whole-slide images; "162 patients" elsewhere is that slide count. The Kaggle
# archive has one folder per patient id; the count usually quoted for it is 279 folders (each present twice,
# see notebooks/paper_notes.md), which this repository cannot check without the full download:
# `python -m bc_helpers index --dataset idc --data-dir data/raw/idc` prints "patients" for a real copy.
IDC_SOURCE_SLIDES = 162
IDC_PATIENT_COUNTS = {
    "source study slides": (162, "Janowczyk & Madabhushi 2016 / Cruz-Roa et al. 2014, as quoted by paper_notes.md "
                                 "and the Kaggle dataset page"),
    "Kaggle archive patient folders": (279, "commonly quoted for the Kaggle archive; not verified here (needs "
                                            "the full download: `python -m bc_helpers index --dataset idc`)"),
}

# Published patient-level results on the IDC test patients (Cruz-Roa 2014 split).
PATIENT_LEVEL_BASELINES = pd.DataFrame(
    [("Cruz-Roa et al. 2014", 0.842, 0.718), ("Janowczyk & Madabhushi 2016", 0.847, 0.765),
     ("Romero et al. 2019", 0.890, 0.897)],
    columns=["study", "balanced_accuracy", "f1"],
)
