"""Paired comparison of runs by patient: the compare command and its fields, seeds combined with one shared draw."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fakes import write_run
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from bc_helpers.cli import main
from bc_helpers.errors import WorkbookError
from bc_helpers.evaluation.paired import compare_runs, read_run, seed_difference


def _data(n: int = 300, patients: int = 20, seed: int = 0, signal: float = 1.5):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    g = np.repeat([f"p{k}" for k in range(patients)], n // patients)
    a = 1 / (1 + np.exp(-(signal * (2 * y - 1) + rng.normal(0, 1, n))))
    b = 1 / (1 + np.exp(-(0.5 * signal * (2 * y - 1) + rng.normal(0, 1, n))))
    return y, a, b, g


def test_compare_runs_paired_bootstrap(tmp_path: Path) -> None:
    y, a, b, g = _data()
    ra, rb = write_run(tmp_path / "a", y, a, g, 0.4), write_run(tmp_path / "b", y, b, g, 0.6)
    out = compare_runs(ra, rb, n_boot=300)
    assert out["roc_auc"]["a"] == pytest.approx(roc_auc_score(y, a))
    assert out["balanced_accuracy"]["b"] == pytest.approx(balanced_accuracy_score(y, b >= 0.6))
    for name in ("roc_auc", "balanced_accuracy"):
        r = out[name]
        assert set(r) == {"a", "b", "difference", "ci", "p_value"}
        assert r["difference"] == pytest.approx(r["a"] - r["b"]) and r["difference"] > 0
        assert r["ci"][0] < r["difference"] < r["ci"][1] and 0 <= r["p_value"] < 0.05
    assert out["n_patients"] == 20 and out["n_images"] == 300 and out["decidable"]
    assert "patient bootstrap" in out["p_value_method"]["roc_auc"]
    same = compare_runs(ra, ra, n_boot=50)
    for name in ("roc_auc", "balanced_accuracy"):
        assert same[name]["difference"] == 0 and same[name]["ci"] == [0.0, 0.0] and same[name]["p_value"] == 1.0


def test_compare_command_writes_json_and_refuses_different_test_images(tmp_path: Path, capsys) -> None:
    y, a, b, g = _data()
    ra, rb = write_run(tmp_path / "a", y, a, g), write_run(tmp_path / "b", y, b, g)
    assert main(["compare", str(ra), str(rb), "--n-boot", "100", "--out", str(tmp_path / "c.json")]) == 0
    saved = json.loads((tmp_path / "c.json").read_text())
    assert saved["roc_auc"]["difference"] > 0
    other = write_run(tmp_path / "other", y, b, g, paths=[f"x{i}.png" for i in range(len(y))])
    capsys.readouterr()
    assert main(["compare", str(ra), str(other)]) == 2
    err = capsys.readouterr().err
    assert "different test images" in err and str(ra) in err and str(other) in err and "Traceback" not in err
    assert main(["compare", str(ra), str(tmp_path / "missing")]) == 2


def test_read_run_keeps_test_rows_only(tmp_path: Path) -> None:
    y, a, _, g = _data(60, 6)
    run = read_run(write_run(tmp_path / "a", y, a, g, 0.3))
    assert len(run.table) == 60 and run.threshold == 0.3 and not run.table["path"].str.startswith("val_").any()
    few = compare_runs(tmp_path / "a", tmp_path / "a", n_boot=20)
    assert not few["decidable"] and few["reason"] == "too few patients: 6 test patients, at least 10 needed"
    assert few["roc_auc"]["ci"] is None and few["roc_auc"]["p_value"] is None


def test_seed_difference_paired_and_unpaired(tmp_path: Path) -> None:
    pairs, leak_pairs = [], []
    for s in range(3):
        y, a, b, g = _data(200, 10, seed=s)
        pairs.append((write_run(tmp_path / f"a{s}", y, a, g), write_run(tmp_path / f"b{s}", y, b, g)))
        # The leak: a different test set (other images, other patients) for the image-level split.
        y2, a2, _, g2 = _data(200, 10, seed=10 + s)
        leak_pairs.append((write_run(tmp_path / f"leak{s}", y2, a2, g2, paths=[f"z{i}" for i in range(200)]),
                           pairs[-1][1]))
    paired = seed_difference(pairs, "roc_auc", n_boot=200)
    expected = np.mean([roc_auc_score(*_data(200, 10, seed=s)[:2]) - roc_auc_score(
        _data(200, 10, seed=s)[0], _data(200, 10, seed=s)[2]) for s in range(3)])
    assert paired["difference"] == pytest.approx(expected) and paired["n_seeds"] == 3
    assert paired["ci"][0] < paired["difference"] < paired["ci"][1]
    unpaired = seed_difference(leak_pairs, "balanced_accuracy", paired=False, n_boot=200)
    assert unpaired["ci"][0] < unpaired["difference"] < unpaired["ci"][1] and not unpaired["paired"]
    with pytest.raises(WorkbookError, match="different test images"):
        seed_difference(leak_pairs, "roc_auc", paired=True, n_boot=10)


def test_seeds_that_share_their_test_patients_share_the_draw(tmp_path: Path) -> None:
    """Two seeds scored on the same patients are not two samples of patients: the interval of their mean is as
    wide as one seed's when both seeds hold the same predictions (independent draws per seed made it ~1/sqrt(2)
    as wide), and the interval over seeds is 0 wide."""
    y, a, b, g = _data(300, 20, seed=3)
    one = [(write_run(tmp_path / "a", y, a, g), write_run(tmp_path / "b", y, b, g))]
    both = seed_difference(one * 2, "roc_auc", n_boot=500)
    alone = seed_difference(one, "roc_auc", n_boot=500)
    assert both["ci"] == pytest.approx(alone["ci"]) and both["seed_ci"] == pytest.approx([alone["difference"]] * 2)
    assert alone["seed_ci"] is not None and np.isnan(alone["seed_ci"]).all()
