"""The stain-fingerprint control: its features, its runs, and its place in the leakage study."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bc_helpers.evaluation.selection import leakage_runs
from bc_helpers.evaluation.tables import collect_runs, leakage_table
from bc_helpers.runs.folders import RunFolder, TrainConfig
from bc_helpers.training import fingerprint
from bc_helpers.training.fingerprint import MODEL, run_fingerprint, run_fingerprints, stain_fingerprint


def test_the_fingerprint_is_each_channels_percentiles_whatever_the_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    images = np.random.default_rng(0).integers(0, 256, (5, 8, 6, 3), dtype=np.uint8)
    monkeypatch.setattr(fingerprint, "CHUNK", 2)  # three blocks, the last one short
    got = stain_fingerprint(images)
    assert got.shape == (5, 6)
    for i, image in enumerate(images):
        pixels = image.reshape(-1, 3)
        expected = np.concatenate([np.percentile(pixels, 75, axis=0), np.percentile(pixels, 95, axis=0)])
        np.testing.assert_allclose(got[i], expected, rtol=1e-6)


def test_nuclei_do_not_move_the_fingerprint() -> None:
    """A patch with a fifth of its pixels dark (nuclei) has the fingerprint of its bright tissue."""
    tissue = np.full((1, 50, 50, 3), (230, 160, 200), np.uint8)
    nuclei = tissue.copy()
    nuclei[0, :10] = (90, 50, 130)
    np.testing.assert_array_equal(stain_fingerprint(tissue), stain_fingerprint(nuclei))


def test_the_control_recognises_real_patients_only_under_an_image_split(shared_idc: Path, tmp_path: Path) -> None:
    """On the real IDC subset, colour alone scores far higher when the test patients are in training."""
    scores = {}
    for protocol in ("patient", "paper"):
        [metrics] = run_fingerprints(TrainConfig(dataset="idc", data_dir=str(shared_idc), protocol=protocol),
                                     tmp_path, [0])
        scores[protocol] = metrics
    assert scores["patient"]["leak"]["test_images_with_patient_in_train"] == 0
    assert scores["paper"]["leak"]["test_images_with_patient_in_train"] == 1
    assert scores["paper"]["roc_auc"] > 0.9
    assert scores["paper"]["roc_auc"] - scores["patient"]["roc_auc"] > 0.1


def test_the_leakage_study_sets_the_control_beside_the_models(tiny_sample: Path, tmp_path: Path) -> None:
    for protocol in ("patient", "paper"):
        config = TrainConfig(dataset="sample", data_dir=str(tiny_sample / "idc"), protocol=protocol)
        run_fingerprints(config, tmp_path, [0, 1])
    assert collect_runs(tmp_path).empty  # not one of the six models' runs: the comparison tables leave it out
    runs = leakage_runs(tmp_path)
    assert set(runs["model"]) == {MODEL} and len(runs) == 4 and set(runs["seed"]) == {0, 1}
    [row] = leakage_table(runs, n_boot=100).to_dict("records")
    assert (row["dataset"], row["model"], row["image_protocol"], row["n_seeds"]) == ("sample", MODEL, "paper", 2)
    assert row["roc_auc inflation"] == pytest.approx(row["roc_auc (image split)"] - row["roc_auc (patient split)"])


def test_a_control_run_is_reused_and_never_overwritten(tiny_sample: Path, tmp_path: Path) -> None:
    config = TrainConfig(dataset="sample", data_dir=str(tiny_sample / "idc"))
    folder = tmp_path / "control"
    first = run_fingerprint(config, folder)
    mtime = RunFolder(folder).metrics.stat().st_mtime_ns
    again = run_fingerprint(config, folder)
    assert first["run_dir"] == again["run_dir"] == str(folder) and again["roc_auc"] == first["roc_auc"]
    assert RunFolder(folder).metrics.stat().st_mtime_ns == mtime  # reused, not rewritten
    other = run_fingerprint(TrainConfig(dataset="sample", data_dir=str(tiny_sample / "idc"), seed=3), folder)
    assert other["run_dir"] == f"{folder}-2" and RunFolder(folder).metrics.stat().st_mtime_ns == mtime
    assert RunFolder(folder).read_config()["train"]["model"] == MODEL
