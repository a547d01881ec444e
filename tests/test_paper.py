"""The paper's numbers as filed: both readings of its "AUC", and the notes that say what it does not state."""

from __future__ import annotations

import pytest

from bc_helpers.evaluation import paper


def test_the_papers_auc_is_its_roc_auc_and_eq5_gives_its_balanced_accuracy() -> None:
    r = paper.RESULTS
    assert set(paper.AUC_READINGS) == {"roc_auc", "balanced_accuracy"}
    idc = r[(r["dataset"] == "idc") & (r["model"] == "cnn_lstm")].iloc[0]
    assert idc["balanced_accuracy"] == pytest.approx(0.9917) and idc["roc_auc"] == 0.995  # Eq. 5; the reported AUC
    # Why Eq. 5 alone does not explain the reported values: they differ from (sensitivity + specificity) / 2.
    assert idc["roc_auc"] != pytest.approx(idc["balanced_accuracy"], abs=1e-3)


def test_notes_name_the_assumption_and_every_model() -> None:
    assert "assumption" in paper.PROTOCOL_NOTE and "does not state" in paper.PROTOCOL_NOTE
    assert all(name in paper.NOTE for name in ("CNN", "LSTM", "GRU", "VGG-16", "ResNet-50", "CNN-LSTM"))
    assert paper.IDC_SOURCE_SLIDES == paper.IDC_PATIENT_COUNTS["source study slides"][0]
