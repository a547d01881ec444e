"""Reading a trained model's result: degenerate runs get the verdict and the words their numbers allow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bc_helpers.evaluation.reading import (
    gather_evidence,
    read_result,
    read_run_result,
    table_reading,
    untrained_comparison,
)
from bc_helpers.runs.folders import RunFolder

LEARNING = pd.DataFrame({"accuracy": [0.68, 0.78, 0.84], "loss": [0.68, 0.56, 0.45]})
SPREAD = np.random.default_rng(0).uniform(0.02, 0.98, 290)  # test probabilities that vary


def metrics(auc: float = 0.937, ci: tuple[float, float] = (0.903, 0.973), acc: float = 0.881,
            sens: float = 0.886, spec: float = 0.879, protocol: str = "patient", leak: float = 0.0,
            patients: int = 15, rule: str = "youden", threshold: float = 0.257) -> dict:
    """A metrics.json content: 290 test images, 88 positive, 202 negative (the majority: 0.697)."""
    tp, tn = round(sens * 88), round(spec * 202)
    return {"model": "cnn_lstm", "protocol": protocol, "roc_auc": auc, "ci": {"roc_auc": list(ci)}, "accuracy": acc,
            "balanced_accuracy": (sens + spec) / 2, "sensitivity": sens, "specificity": spec,
            "threshold": threshold, "threshold_rule": rule, "n_images": 290, "n_patients": patients,
            "threshold_note": "validation holds 3 negative and 5 positive patients (at least 4 each needed): the "
                              "threshold calls 30.3% of the 310 validation images positive, as many as are",
            "confusion": {"tp": tp, "fn": 88 - tp, "tn": tn, "fp": 202 - tn},
            "leak": {"test_images_with_patient_in_train": leak}}


def test_a_good_run_is_recognised_with_its_numbers_and_rule() -> None:
    r = read_result(metrics(), SPREAD, LEARNING)
    assert r.verdict == "recognised"
    assert r.takeaway.startswith("**Recognised.** On 15 test patients (290 images) not seen in training, the CNN-LSTM")
    for number in ("ROC-AUC 0.937", "0.903-0.973", "accuracy 0.881", "against 0.697 for calling every image "
                   "negative", "threshold 0.257", "Youden's J"):
        assert number in r.takeaway
    assert not r.caveats and r._repr_markdown_() == r.takeaway


@pytest.mark.parametrize("test, history", [
    (np.full(290, 0.5) + np.random.default_rng(1).normal(0, 1e-4, 290), LEARNING),  # flat probabilities
    (SPREAD, pd.DataFrame({"accuracy": [0.47, 0.48], "loss": [0.7267, 0.7251]})),  # training never moved
])
def test_a_collapsed_run_is_never_recognised_whatever_its_roc_auc(test: np.ndarray, history: pd.DataFrame) -> None:
    r = read_result(metrics(auc=0.947, ci=(0.91, 0.98)), test, history, name="VGG-16 (from scratch)")
    assert r.verdict == "collapsed" and r.collapsed
    assert r.takeaway.startswith("**Collapsed: untrained, its ROC-AUC ranks noise.**")
    assert "VGG-16 (from scratch) scores ROC-AUC 0.947" in r.takeaway and "ROC-AUC measures ranking only" in r.takeaway
    assert "recognised" not in r.takeaway
    assert "standard deviation of 0.0001" in r.takeaway or "accuracy went 0.470 -> 0.480" in r.takeaway


def test_a_network_whose_validation_loss_fell_is_not_collapsed_whatever_its_training_curve() -> None:
    """The LSTM of a default run: training accuracy 0.516 -> 0.526, loss 0.731 -> 0.713, validation loss down to
    0.675 from 0.750; its interval lies above 0.5, so its ranking is not noise."""
    lstm = pd.DataFrame({"accuracy": [0.516, 0.528, 0.526], "loss": [0.731, 0.716, 0.713],
                         "val_loss": [0.750, 0.675, 0.730]})
    assert read_result(metrics(auc=0.678, ci=(0.59, 0.75)), SPREAD, lstm).verdict != "collapsed"
    flat = lstm.assign(val_loss=[0.7263, 0.7257, 0.7260])  # VGG-16 from scratch: nothing moved
    r = read_result(metrics(auc=0.678, ci=(0.59, 0.75)), SPREAD, flat)
    assert r.verdict == "collapsed" and "validation loss fell at most 0.001" in r.takeaway


FLAT = np.full(290, 0.5) + np.random.default_rng(1).normal(0, 3e-3, 290)  # VGG-16 after 26 steps: outputs near 0.5


NO_BETTER = "no better, by its interval, than the same network did (ROC-AUC 0.453 at the start of this run"


@pytest.mark.parametrize("gain_ci, roc_ci, collapsed, words", [
    ((0.184, 0.466), (0.67, 0.84), False, ""),  # ranked the test patients better than its untrained start
    ((-0.05, 0.21), (0.67, 0.84), True, NO_BETTER),  # no better than its start: the untrained ranking survived
    ((0.10, 0.30), (0.45, 0.62), True, "lifted its ranking above its start's (ROC-AUC 0.453 at the start of this "
     "run, gain +0.100 to +0.300 by patient), but not above chance"),  # above a start below chance, not above 0.5
    (None, (0.67, 0.84), True, NO_BETTER),  # the control was too small for a verdict
])
def test_flat_outputs_are_collapsed_unless_training_beat_the_untrained_start(
        gain_ci: tuple[float, float] | None, roc_ci: tuple[float, float], collapsed: bool, words: str) -> None:
    start = {"untrained_roc_auc": 0.453, "gain": 0.308, "ci": None if gain_ci is None else list(gain_ci)}
    r = read_result(metrics(auc=0.761, ci=roc_ci) | {"untrained": start}, FLAT,
                    pd.DataFrame({"accuracy": [0.48, 0.48], "loss": [0.737, 0.727]}), name="VGG-16")
    assert r.collapsed == collapsed
    if collapsed:
        assert words in r.takeaway
    else:
        assert r.verdict == "recognised"
        assert f"barely vary (standard deviation {FLAT.std():.4f}), yet training changed its ranking" in r.takeaway
        assert ("the same network scored ROC-AUC 0.453 at the start of this run (gain +0.184 to +0.466 by patient)"
                in r.takeaway)
    assert read_result(metrics(auc=0.761, ci=roc_ci), FLAT).collapsed  # without the control: the flat rule


def test_a_transfer_stage_is_read_against_its_start_never_called_collapsed() -> None:
    """VGG-16 fine-tuned from a trained head: its start is no untrained network, so neither a flat curve nor flat
    outputs make it "collapsed"; its caveat compares it with that start."""
    flat = pd.DataFrame({"accuracy": [0.552, 0.541], "loss": [0.717, 0.714], "val_loss": [0.745, 0.752]})
    start = {"untrained_roc_auc": 0.682, "ci": [-0.02, 0.03]}
    stage = metrics(auc=0.684, ci=(0.579, 0.859), acc=0.619, sens=0.598, spec=0.628) | {"untrained": start}
    scratch = read_result(stage, SPREAD, flat)
    assert scratch.collapsed and "its validation loss never fell below its first epoch's" in scratch.takeaway
    for outputs in (SPREAD, FLAT):
        r = read_result(stage, outputs, flat, pretrained_start=True)
        assert r.verdict == "ranks only"
        assert ("This stage started from trained weights, so it is read against that start, not against an untrained "
                "network; its training barely moved (its training accuracy went 0.552 -> 0.541 and its loss 0.717 -> "
                "0.714, and its validation loss never fell below its first epoch's). At the start of this run, the "
                "same network ranked these test images at ROC-AUC 0.682; the gain's interval, -0.020 to +0.030 by "
                "patient, includes 0") in r.takeaway


@pytest.mark.parametrize("gain_ci, words", [
    (None, "too few test patients to tell what training changed."),
    ((0.184, 0.466), "training changed it by +0.184 to +0.466 by patient: the ranking is training's, not the start's."),
    ((-0.30, -0.05), "training changed it by -0.300 to -0.050 by patient: it ranks worse than it started."),
    ((-0.322, 0.543), "the gain's interval, -0.322 to +0.543 by patient, includes 0"),
])
def test_the_untrained_comparison_reads_the_gain_for_what_it_says(gain_ci: tuple | None, words: str) -> None:
    start = {"untrained_roc_auc": 0.607, "ci": None if gain_ci is None else list(gain_ci)}
    sentence = untrained_comparison(gather_evidence(metrics() | {"untrained": start}))
    assert sentence.startswith("At the start of this run, the same network ranked these test images at ROC-AUC 0.607")
    assert words in sentence
    assert untrained_comparison(gather_evidence(metrics())) == ""


def test_a_network_that_learned_in_its_first_epoch_is_not_collapsed() -> None:
    """Accuracy flat after epoch 1, but the loss still falls: it trained."""
    plateau = pd.DataFrame({"accuracy": [0.90, 0.905, 0.91], "loss": [0.30, 0.26, 0.22]})
    assert read_result(metrics(), SPREAD, plateau).verdict == "recognised"


def test_one_class() -> None:
    r = read_result(metrics(acc=0.697, sens=0.0, spec=1.0), SPREAD, LEARNING)
    assert r.verdict == "one class"
    assert "sensitivity 0.000 and specificity 1.000, it calls nearly every test image one class" in r.takeaway


@pytest.mark.parametrize("ci, verdict", [((0.382, 0.869), "chance"), ((0.500, 0.931), "chance"),
                                         ((0.15, 0.35), "below chance")])
def test_an_interval_that_reaches_half_is_chance(ci: tuple[float, float], verdict: str) -> None:
    """04's 0.637 (0.382-0.869) and 07's 0.500-0.931 were both called recognised."""
    r = read_result(metrics(auc=sum(ci) / 2, ci=ci), SPREAD, LEARNING)
    assert r.verdict == verdict and "recognised" not in r.takeaway
    assert f"{ci[0]:.3f}-{ci[1]:.3f}" in r.takeaway


def test_accuracy_below_the_majority_baseline_is_not_recognised() -> None:
    """04: ROC-AUC 0.637, accuracy 0.528 below the 0.645 majority; here the interval clears 0.5, the accuracy not."""
    r = read_result(metrics(acc=0.60, sens=0.9, spec=0.46, ci=(0.7, 0.9)), SPREAD, LEARNING)
    assert r.verdict == "ranks only"
    assert "accuracy 0.600 does not beat 0.697, calling every image negative" in r.takeaway


@pytest.mark.parametrize("protocol, leak", [("paper", 1.0), ("kaggle", 0.83)])
def test_a_leaky_split_never_says_unseen_patients(protocol: str, leak: float) -> None:
    r = read_result(metrics(protocol=protocol, leak=leak, patients=40), SPREAD, LEARNING)
    for lie in ("never seen", "not seen in training", "new patients"):
        assert lie not in r.takeaway
    assert f"40 patients who also gave images to training ({leak:.0%} of these images" in r.takeaway
    assert "recognises patients it trained on" in r.takeaway


def test_too_few_patients_and_the_share_rule_are_said() -> None:
    r = read_result(metrics(patients=6, rule="share", threshold=0.825), SPREAD, LEARNING)
    assert "Too few patients: only 6 test patients (under 10)" in r.takeaway
    assert "threshold 0.825" in r.takeaway and "rule `share`: validation holds 3 negative" in r.takeaway
    assert "Youden" not in r.takeaway


def test_a_run_folder_is_read_from_its_files(tmp_path) -> None:
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    run.write_metrics(metrics())
    run.write_history(pd.DataFrame({"accuracy": [0.5, 0.5], "loss": [0.69, 0.69]}))
    run.write_predictions(pd.DataFrame({"part": ["val", "test", "test"], "probability": [0.1, 0.5, 0.9]}))
    assert read_run_result(run.path).verdict == "collapsed" and table_reading(run.path) == "collapsed"
    run.write_history(LEARNING)
    assert table_reading(run.path) == "recognised"


def test_the_comparison_tables_mark_a_collapsed_run(tmp_path) -> None:
    """09's and the report's paper table: a VGG-16 that never trained says so beside its ROC-AUC."""
    from test_compare import fake_run

    from bc_helpers.evaluation.tables import collect_runs, paper_table

    for model in ("cnn_lstm", "vgg16"):
        run = RunFolder(fake_run(tmp_path, "sample", "patient", model, 0, 2.5))
        run.write_metrics(run.read_metrics() | {"ci": {"roc_auc": [0.9, 0.99], "balanced_accuracy": [0.8, 0.9]}})
    vgg = RunFolder(tmp_path / "sample" / "patient" / "vgg16-s0")
    test = vgg.read_predictions()
    vgg.write_predictions(test.assign(probability=0.5 + 1e-4 * test["probability"]))  # same ranking, flat
    runs = collect_runs(tmp_path)
    assert dict(zip(runs["model"], runs["reading"], strict=True)) == {"cnn_lstm": "recognised",
                                                                       "vgg16": "collapsed"}
    table = paper_table(runs, "sample")
    assert table.loc["vgg16", ("ours", "reading")] == "collapsed"
    assert table.loc["vgg16", ("ours", "roc_auc")] > 0.9  # the ranking survives: only the reading tells
    from bc_helpers.course.report import sections

    notes = dict(sections(runs, ["sample"], runs))
    assert notes["Collapsed runs"].startswith("Marked collapsed: vgg16. A collapsed run never trained")
    assert "collapsed" in notes["sample: the paper's table beside ours (test images, patient split)"][
        "ours: reading"].tolist()


def test_a_recognised_run_that_misses_most_positives_says_so() -> None:
    r = read_result(metrics(auc=0.717, ci=(0.649, 0.785), acc=0.725, sens=0.422, spec=0.859), SPREAD, LEARNING)
    assert r.verdict == "recognised"
    assert "misses 58% of the positive images (sensitivity 0.422)" in r.takeaway
    assert not read_result(metrics(), SPREAD, LEARNING).caveats  # a balanced run carries no such warning


def test_a_chance_run_that_misses_most_positives_is_not_called_better_than_chance() -> None:
    r = read_result(metrics(auc=0.623, ci=(0.191, 0.965), acc=0.585, sens=0.288, spec=0.952), SPREAD, LEARNING)
    assert r.verdict == "chance"
    assert "misses 71% of the positive images (sensitivity 0.288): no usable classifier" in r.takeaway
    assert "better than chance" not in r.takeaway


def test_a_result_barely_above_chance_is_named_weak_whatever_its_verdict() -> None:
    """The BreaKHis-like GRU of a default run: interval 0.532-0.901, accuracy above the majority, sensitivity 0.581."""
    weak = read_result(metrics(auc=0.728, ci=(0.532, 0.901), acc=0.75, sens=0.581, spec=0.80), SPREAD, LEARNING)
    assert weak.verdict == "recognised"
    assert "Barely better than chance: the interval's lower end, 0.532" in weak.takeaway
    assert "balanced accuracy is 0.691" in weak.takeaway
    assert "Barely better" not in read_result(metrics(), SPREAD, LEARNING).takeaway  # 0.903: clear of chance
