"""Reading a trained model's result: one verdict and one Markdown takeaway whose numbers come from the run.

Notebooks 03-08, 09's tables and the report all say what a run means through this module, so a rule that keeps
a takeaway honest is written once. The rules, in the order they win:

- "collapsed": the network never trained. Its test probabilities barely vary, or neither its training accuracy,
  nor its loss, nor its best validation loss moved. ROC-AUC measures ranking only, and the tiny differences of an
  untrained network can rank an easy sample (a random VGG-16 scored 0.947), so a collapsed run is never
  "recognised", whatever its ROC-AUC. Unless the run beat its own untrained start: where the run recorded the
  test probabilities of the network as it started (untrained.csv), a test ROC-AUC above 0.5 that also beats the
  start's on the same patients (paired.training_gain, interval above 0) is learning, however flat the outputs.
- "one class": at its threshold nearly every test image gets one prediction.
- "below chance" / "chance": the ROC-AUC interval by patient lies below 0.5 / includes 0.5.
- "ranks only": the interval lies above 0.5, but the accuracy does not beat calling every test image the
  majority class.
- "recognised": the interval lies above 0.5 and the accuracy beats that majority baseline.

Whatever the verdict, the takeaway names the threshold rule actually used, never says "never seen" of a split
whose test patients also gave images to training, and warns when there are too few test patients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..runs.catalogue import display_name
from ..runs.folders import RunFolder
from .resampling import MIN_PATIENTS

VERDICTS = ("recognised", "ranks only", "chance", "below chance", "one class", "collapsed")
FLAT_PROBABILITY_SD = 0.02  # test probabilities with a smaller standard deviation: the model outputs a constant
FLAT_TRAINING_CHANGE = 0.02  # training accuracy and loss both moving less than this, first to last epoch
ONE_CLASS_RATE = 0.05  # sensitivity or specificity under this: (nearly) every image gets one prediction
MISSES_MOST = 0.5  # sensitivity or specificity under this: the threshold misses most images of that class
NEAR_CHANCE = 0.6  # a ROC-AUC interval above 0.5 whose lower end is under this: better than chance, but barely
LEAKY_PROTOCOLS = ("paper", "kaggle")  # image-level splits: a test patient's other images are in training
HEADLINES = {
    "recognised": "Recognised.",
    "ranks only": "Ranks, but its accuracy does not beat the majority class.",
    "chance": "Chance.",
    "below chance": "Below chance.",
    "one class": "One class.",
    "collapsed": "Collapsed: untrained, its ROC-AUC ranks noise.",
}
COLLAPSED_NOTE = ("A collapsed run never trained: its test probabilities barely vary, or its training accuracy and "
                  "loss did not move. Its ROC-AUC ranks noise (ROC-AUC measures ranking only, and an untrained "
                  "network's tiny differences can rank an easy sample), so its row is no result of the model.")
RULES = {
    "youden": "chosen on validation patients by Youden's J (the most sensitivity + specificity)",
    "sensitivity": "chosen on validation patients as the most specific one that reaches the target sensitivity",
    "fixed": "fixed at 0.5",
    "share": "set so that validation gets as many positive calls as it has positive images (rule `share`: {note})",
    "prior": "the training prior of the positive class (rule `prior`: {note})",
}


@dataclass(frozen=True)
class Evidence:
    """What the verdict rests on, each measured from the run (None where the run did not give it)."""

    roc_auc: float
    roc_auc_ci: tuple[float, float]
    accuracy: float
    majority_baseline: float  # accuracy of calling every test image `majority_class`
    majority_class: str  # "negative" or "positive"
    sensitivity: float
    specificity: float
    probability_sd: float | None  # of the test probabilities
    train_accuracy: tuple[float, float] | None  # first and last epoch
    train_loss: tuple[float, float] | None
    leak_share: float  # share of test images whose patient also has images in training
    n_patients: int
    n_images: int
    val_loss_drop: float | None = None  # first epoch's validation loss minus the lowest
    untrained_roc_auc: float | None = None  # the same network's test ROC-AUC at the start of this run
    training_gain_ci: tuple[float, float] | None = None  # of ROC-AUC minus untrained_roc_auc, by patient
    pretrained_start: bool = False  # the run started from trained weights (a transfer stage), not random ones


@dataclass(frozen=True)
class Reading:
    """A run's verdict (one of VERDICTS), its Markdown takeaway, and the evidence. Shown in a notebook, it
    displays as its takeaway."""

    verdict: str
    takeaway: str
    evidence: Evidence
    caveats: tuple[str, ...] = ()

    @property
    def collapsed(self) -> bool:
        return self.verdict == "collapsed"

    def _repr_markdown_(self) -> str:
        return self.takeaway


def majority_baseline(metrics: dict, labels: np.ndarray | None = None) -> tuple[float, str]:
    """The accuracy of calling every test image the larger class, and that class: from the confusion counts, or
    else from the test labels; NaN when the run gives neither (then "recognised" cannot be confirmed)."""
    if "confusion" in metrics:
        c = metrics["confusion"]
        negatives, positives = c["tn"] + c["fp"], c["fn"] + c["tp"]
    elif labels is not None and len(labels):
        positives = int(np.sum(labels == 1))
        negatives = len(labels) - positives
    else:
        return float("nan"), "negative"
    total = max(negatives + positives, 1)
    return (positives / total, "positive") if positives > negatives else (negatives / total, "negative")


def _first_last(history: pd.DataFrame | None, column: str) -> tuple[float, float] | None:
    if history is None or column not in history or len(history) < 2:
        return None
    values = history[column].to_numpy(dtype=float)
    return float(values[0]), float(values[-1])


def _drop(history: pd.DataFrame | None, column: str) -> float | None:
    """The first epoch's value minus the lowest: how far a loss fell at best."""
    if history is None or column not in history or len(history) < 2:
        return None
    values = history[column].to_numpy(dtype=float)
    return float(values[0] - values.min())


def learned_ranking(evidence: Evidence) -> bool:
    """Training taught the network a ranking: its test ROC-AUC interval lies above 0.5 and above its untrained
    start's on the same test patients (the gain's interval lies above 0)."""
    gain = evidence.training_gain_ci
    return gain is not None and gain[0] > 0 and evidence.roc_auc_ci[0] > 0.5


def _no_gain(evidence: Evidence) -> str:
    """The start control in words, for a collapsed run, where the run recorded it."""
    if evidence.untrained_roc_auc is None:
        return ""
    gain = evidence.training_gain_ci
    interval = "" if gain is None else f", gain {gain[0]:+.3f} to {gain[1]:+.3f} by patient"
    start = f"ROC-AUC {evidence.untrained_roc_auc:.3f} at the start of this run{interval}"
    if gain is not None and gain[0] > 0:
        return f"; training lifted its ranking above its start's ({start}), but not above chance"
    return f"; and it ranks the test images no better, by its interval, than the same network did ({start})"


def untrained_comparison(evidence: Evidence) -> str:
    """What training changed in the ranking, in a sentence: the network's test ROC-AUC at the start of this run
    against its own, with the gain's interval by patient read for what it says; "" where the run has no record."""
    start, gain = evidence.untrained_roc_auc, evidence.training_gain_ci
    if start is None:
        return ""
    text = f"At the start of this run, the same network ranked these test images at ROC-AUC {start:.3f}"
    if gain is None:
        return text + "; too few test patients to tell what training changed."
    interval = f"{gain[0]:+.3f} to {gain[1]:+.3f} by patient"
    if gain[0] > 0:
        return text + f"; training changed it by {interval}: the ranking is training's, not the start's."
    if gain[1] < 0:
        return text + f"; training changed it by {interval}: it ranks worse than it started."
    return text + (f"; the gain's interval, {interval}, includes 0: on these patients, what training added to "
                   "the ranking cannot be told from what the network started with.")


def _flat_history(evidence: Evidence) -> str | None:
    """The training curve in words when neither the training accuracy, nor the loss, nor the best validation loss
    moved; None when one of them did."""
    acc, loss, drop = evidence.train_accuracy, evidence.train_loss, evidence.val_loss_drop
    if acc and loss and abs(acc[1] - acc[0]) < FLAT_TRAINING_CHANGE and loss[0] - loss[1] < FLAT_TRAINING_CHANGE \
            and (drop is None or drop < FLAT_TRAINING_CHANGE):
        fell = ("" if drop is None else f", and its validation loss fell at most {drop:.3f}" if drop > 0 else
                ", and its validation loss never fell below its first epoch's")
        return (f"its training accuracy went {acc[0]:.3f} -> {acc[1]:.3f} and its loss {loss[0]:.3f} -> "
                f"{loss[1]:.3f}{fell}")
    return None


def collapse_reason(evidence: Evidence) -> str | None:
    """Why the run counts as untrained, in words with its numbers; None when it trained.

    Training accuracy alone is not enough: a network that learns within its first epoch then plateaus also
    keeps its accuracy, but its loss keeps falling as it grows confident. So the history counts only when the
    accuracy and the loss both stayed put (VGG-16 from scratch: accuracy 0.47 -> 0.48, loss 0.727 -> 0.725), and
    the validation loss never fell either: an LSTM whose training accuracy crept 0.516 -> 0.526 while its validation
    loss fell 0.750 -> 0.675 learned a little, and its ranking is not noise. Neither rule applies to a run that
    beat its untrained start (learned_ranking), and neither applies to a run that started from trained weights
    (a transfer stage): its start is no untrained network, so its caveat compares it with that start instead."""
    if learned_ranking(evidence) or evidence.pretrained_start:
        return None
    sd = evidence.probability_sd
    if sd is not None and sd < FLAT_PROBABILITY_SD:
        return (f"its {evidence.n_images} test probabilities have a standard deviation of {sd:.4f} "
                f"(under {FLAT_PROBABILITY_SD}): it gives every image nearly the same output" + _no_gain(evidence))
    flat = _flat_history(evidence)
    if flat:
        return flat + ": training did not move it" + _no_gain(evidence)
    return None


def decide_verdict(evidence: Evidence) -> str:
    """The verdict by the module's rules, in their order (collapsed first: it overrides any ROC-AUC)."""
    lo, hi = evidence.roc_auc_ci
    if collapse_reason(evidence):
        return "collapsed"
    if min(evidence.sensitivity, evidence.specificity) < ONE_CLASS_RATE:
        return "one class"
    if math.isnan(lo) or lo <= 0.5 <= hi:
        return "chance"
    if hi < 0.5:
        return "below chance"
    return "recognised" if evidence.accuracy > evidence.majority_baseline else "ranks only"


def _is_leaky(metrics: dict, leak_share: float) -> bool:
    return metrics.get("protocol") in LEAKY_PROTOCOLS or leak_share > 0


def _scope(metrics: dict, evidence: Evidence, name: str) -> str:
    """Who was tested: patients unseen in training only when the split kept them out."""
    if _is_leaky(metrics, evidence.leak_share):
        return (f"On {evidence.n_images} test images of {evidence.n_patients} patients who also gave images to "
                f"training ({evidence.leak_share:.0%} of these images have their patient in training, split "
                f"`{metrics.get('protocol', '?')}`), the {name}")
    return f"On {evidence.n_patients} test patients ({evidence.n_images} images) not seen in training, the {name}"


def _numbers(metrics: dict, e: Evidence) -> str:
    rule = metrics.get("threshold_rule", metrics.get("threshold_method", "youden"))
    how = RULES.get(rule, f"by rule `{rule}`").format(note=metrics.get("threshold_note", "").rstrip("."))
    lo, hi = e.roc_auc_ci
    return (f"scores ROC-AUC {e.roc_auc:.3f} (95% interval by patient {lo:.3f}-{hi:.3f}) and accuracy "
            f"{e.accuracy:.3f}, against {e.majority_baseline:.3f} for calling every image {e.majority_class}; "
            f"sensitivity {e.sensitivity:.3f}, specificity {e.specificity:.3f} and balanced accuracy "
            f"{metrics['balanced_accuracy']:.3f} at the threshold {metrics['threshold']:.3f}, {how}.")


def _meaning(verdict: str, e: Evidence) -> str:
    """What the verdict means, in a sentence with the numbers it rests on."""
    lo, hi = e.roc_auc_ci
    return {
        "recognised": "The interval lies above 0.5 and the accuracy beats the majority baseline: both classes "
                      "are recognised.",
        "ranks only": f"The interval lies above 0.5, so it ranks images better than chance, but at this threshold "
                      f"its accuracy {e.accuracy:.3f} does not beat {e.majority_baseline:.3f}, calling every "
                      f"image {e.majority_class}: the threshold trades plain accuracy for the sensitivity "
                      f"{e.sensitivity:.3f} and specificity {e.specificity:.3f} above.",
        "chance": f"The interval {lo:.3f}-{hi:.3f} includes 0.5: on these patients its ranking cannot be told "
                  "from chance.",
        "below chance": f"The whole interval {lo:.3f}-{hi:.3f} lies below 0.5: it ranks positives below "
                        "negatives, worse than a coin; check the labels and the sign of the output before reading "
                        "anything else.",
        "one class": f"With sensitivity {e.sensitivity:.3f} and specificity {e.specificity:.3f}, it calls nearly "
                     "every test image one class: at this threshold it has no usable rule, whatever its ROC-AUC.",
        "collapsed": f"The network did not learn: {collapse_reason(e)}. ROC-AUC measures ranking only, and the "
                     "tiny differences of an untrained network can rank an easy sample, so none of these numbers "
                     "is learning.",
    }[verdict]


def _caveats(metrics: dict, e: Evidence) -> tuple[str, ...]:
    out = []
    if _is_leaky(metrics, e.leak_share):
        out.append("This split lets a test patient's other images into training: it measures how well the model "
                   "recognises patients it trained on, not how it does on patients it has not met.")
    for name, rate, kind in (("sensitivity", e.sensitivity, "positive"), ("specificity", e.specificity, "negative")):
        if ONE_CLASS_RATE <= rate < MISSES_MOST:
            ranks = ("a ranking better than chance is not yet a usable classifier" if e.roc_auc_ci[0] > 0.5
                     else "no usable classifier")
            out.append(f"At this threshold it misses {1 - rate:.0%} of the {kind} images ({name} {rate:.3f}): "
                       f"{ranks}.")
    gain = e.training_gain_ci
    if e.probability_sd is not None and e.probability_sd < FLAT_PROBABILITY_SD and gain and learned_ranking(e):
        gain_lo, gain_hi = gain
        out.append(f"Its test probabilities barely vary (standard deviation {e.probability_sd:.4f}), yet training "
                   f"changed its ranking: the same network scored ROC-AUC {e.untrained_roc_auc:.3f} at the start of "
                   f"this run (gain {gain_lo:+.3f} to {gain_hi:+.3f} by patient). Its outputs are no estimate of "
                   "risk; the threshold chosen on validation does the work, and one run cannot say how much of the "
                   "ranking another start would reach.")
    if e.pretrained_start:
        flat = _flat_history(e)
        out.append("This stage started from trained weights, so it is read against that start, not against an "
                   "untrained network" + (f"; its training barely moved ({flat})" if flat else "") + ". "
                   + untrained_comparison(e))
    lo = e.roc_auc_ci[0]
    if 0.5 < lo < NEAR_CHANCE:
        out.append(f"Barely better than chance: the interval's lower end, {lo:.3f}, is close to 0.5, and the balanced "
                   f"accuracy is {(e.sensitivity + e.specificity) / 2:.3f}. On this sample and budget this is a weak "
                   "result, not a usable classifier.")
    if e.n_patients < MIN_PATIENTS:
        out.append(f"Too few patients: only {e.n_patients} test patients (under {MIN_PATIENTS}), so "
                   "the interval rests on few distinct resamples and is rough.")
    return tuple(out)


def gather_evidence(metrics: dict, test: pd.DataFrame | np.ndarray | None = None,
                    history: pd.DataFrame | None = None, pretrained_start: bool = False) -> Evidence:
    """The evidence from metrics.json's content, the test probabilities (predictions.csv, all rows or the test
    part: a `part` column is filtered to "test"; or an array), the history (history.csv), and whether the run
    started from trained weights (config.json's hparams.weights)."""
    labels = None
    if isinstance(test, pd.DataFrame):
        rows = test[test["part"] == "test"] if "part" in test else test
        labels = rows["label"].to_numpy() if "label" in rows else None
        test = rows["probability"].to_numpy(dtype=float)
    baseline, majority = majority_baseline(metrics, labels)
    lo, hi = metrics.get("ci", {}).get("roc_auc", (float("nan"), float("nan")))
    return Evidence(
        roc_auc=float(metrics["roc_auc"]), roc_auc_ci=(float(lo), float(hi)), accuracy=float(metrics["accuracy"]),
        majority_baseline=baseline, majority_class=majority, sensitivity=float(metrics["sensitivity"]),
        specificity=float(metrics["specificity"]),
        probability_sd=float(np.std(test)) if test is not None and len(test) else None,
        train_accuracy=_first_last(history, "accuracy"), train_loss=_first_last(history, "loss"),
        leak_share=float(metrics.get("leak", {}).get("test_images_with_patient_in_train", 0.0)),
        n_patients=int(metrics["n_patients"]), n_images=int(metrics["n_images"]),
        val_loss_drop=_drop(history, "val_loss"), pretrained_start=pretrained_start, **_untrained(metrics))


def _untrained(metrics: dict) -> dict:
    """The Evidence fields of metrics.json's "untrained" entry (the run's untrained start), where it has one."""
    start = metrics.get("untrained")
    if not start:
        return {}
    ci = start.get("ci")
    return {"untrained_roc_auc": float(start["untrained_roc_auc"]),
            "training_gain_ci": None if ci is None else (float(ci[0]), float(ci[1]))}


def read_result(metrics: dict, test: pd.DataFrame | np.ndarray | None = None,
                history: pd.DataFrame | None = None, name: str | None = None,
                pretrained_start: bool = False) -> Reading:
    """The verdict and the takeaway of one run; `name` (default: the model's display name, as "CNN-LSTM") is how
    the takeaway calls the model. Without `test` or `history` the collapse checks that need them are skipped.
    pretrained_start: the run started from trained weights (a transfer stage), so a flat curve is no collapse."""
    evidence = gather_evidence(metrics, test, history, pretrained_start)
    verdict = decide_verdict(evidence)
    caveats = _caveats(metrics, evidence)
    name = name or display_name(metrics.get("model", "model"))
    takeaway = " ".join([f"**{HEADLINES[verdict]}**", _scope(metrics, evidence, name), _numbers(metrics, evidence),
                         _meaning(verdict, evidence), *caveats])
    return Reading(verdict, takeaway, evidence, caveats)


def read_run_result(run_dir: str | Path, name: str | None = None) -> Reading:
    """`read_result` of a finished run folder: its metrics.json, its test predictions and its history, where
    the folder holds them."""
    run = RunFolder(run_dir)
    test = run.read_predictions("test") if run.predictions.exists() else None
    history = run.read_history() if run.history.exists() else None
    hparams = (run.read_config() or {}).get("train", {}).get("hparams", {})
    return read_result(run.read_metrics(), test, history, name, pretrained_start=hparams.get("weights") is not None)


def table_reading(run_dir: str | Path) -> str:
    """The verdict a comparison table shows in its `reading` column for a run ("collapsed", "recognised", ...)."""
    return read_run_result(run_dir).verdict
