"""The paper's numbers as filed: both readings of its "AUC", and the notes that say what it does not state."""

from __future__ import annotations

import pytest

from bc_helpers.evaluation import paper


def test_auc_column_is_filed_under_both_readings_with_the_reason() -> None:
    r = paper.RESULTS
    assert (r["roc_auc"] == r["balanced_accuracy"]).all() and set(paper.AUC_READINGS) == {"roc_auc",
                                                                                         "balanced_accuracy"}
    # Why Eq. 5 alone does not explain the values: they differ from (sensitivity + specificity) / 2.
    idc = r[(r["dataset"] == "idc") & (r["model"] == "cnn_lstm")].iloc[0]
    assert (idc["sensitivity"] + idc["specificity"]) / 2 != pytest.approx(idc["balanced_accuracy"], abs=1e-3)


def test_notes_name_the_assumption_and_every_model() -> None:
    assert "assumption" in paper.PROTOCOL_NOTE and "does not state" in paper.PROTOCOL_NOTE
    assert all(name in paper.NOTE for name in ("CNN", "LSTM", "GRU", "VGG-16", "ResNet-50", "CNN-LSTM"))
    assert paper.IDC_SOURCE_SLIDES == paper.IDC_PATIENT_COUNTS["source study slides"][0]
