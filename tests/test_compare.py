"""The leakage table over both datasets at once, several seeds, with intervals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fakes import write_run

from bc_helpers.evaluation.tables import collect_runs, leakage_table


def fake_run(root: Path, dataset: str, protocol: str, model: str, seed: int, signal: float) -> Path:
    """A finished run folder (metrics.json, config.json, predictions.csv) whose test scores carry `signal`."""
    rng = np.random.default_rng(seed + int(10 * signal))
    y = rng.integers(0, 2, 200)
    prob = 1 / (1 + np.exp(-(signal * (2 * y - 1) + rng.normal(0, 1, 200))))
    return write_run(root / dataset / protocol / f"{model}-s{seed}", y, prob, np.repeat(np.arange(10), 20),
                     fields={"dataset": dataset, "protocol": protocol, "model": model}, config={"seed": seed})


def test_leakage_table_keeps_both_datasets_each_with_its_protocol(tmp_path: Path) -> None:
    for seed in (0, 1):
        fake_run(tmp_path, "sample", "patient", "cnn_lstm", seed, 0.5)
        fake_run(tmp_path, "sample", "paper", "cnn_lstm", seed, 2.5)
        fake_run(tmp_path, "sample_breakhis", "patient", "cnn_lstm", seed, 0.6)
        fake_run(tmp_path, "sample_breakhis", "kaggle", "cnn_lstm", seed, 2.0)
    fake_run(tmp_path, "sample_breakhis", "paper", "cnn_lstm", 0, 2.2)
    runs = collect_runs(tmp_path, all_seeds=True)
    assert len(runs) == 9 and set(runs["seed"]) == {0, 1}
    assert len(collect_runs(tmp_path)) == 5  # newest per setting
    leak = leakage_table(runs, n_boot=200)
    got = {(r.dataset, r.image_protocol): r for r in leak.itertuples()}
    assert set(got) == {("sample", "paper"), ("sample_breakhis", "kaggle"), ("sample_breakhis", "paper")}
    assert got["sample", "paper"].n_seeds == 2 and got["sample_breakhis", "paper"].n_seeds == 1
    row = leak[(leak["dataset"] == "sample_breakhis") & (leak["image_protocol"] == "kaggle")].iloc[0]
    honest = runs[(runs["dataset"] == "sample_breakhis") & (runs["protocol"] == "patient")]["roc_auc"].mean()
    leaky = runs[(runs["dataset"] == "sample_breakhis") & (runs["protocol"] == "kaggle")]["roc_auc"].mean()
    assert row["roc_auc (patient split)"] == pytest.approx(honest)
    assert row["roc_auc inflation"] == pytest.approx(leaky - honest) and row["roc_auc inflation"] > 0
    lo, hi = row["roc_auc inflation ci"]
    assert lo < row["roc_auc inflation"] < hi
    for metric in ("roc_auc", "balanced_accuracy"):
        assert not leak[f"{metric} inflation"].isna().any()


def test_leakage_table_without_patient_runs_is_empty(tmp_path: Path) -> None:
    fake_run(tmp_path, "sample", "paper", "cnn", 0, 2.0)
    assert leakage_table(collect_runs(tmp_path)).empty
