"""The paper's claims tested on a run: what holds up and what does not, and why. Each finding is a claim, a verdict
and a sentence whose numbers come from the run's files: the ablation's verdict (ablation.json), the leak beside
its control (leakage.json at the run's root, or the run folders' leakage table), and the paper's ranking beside
ours (collapsed runs set aside). The report opens with them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from ..data.registry import facts
from ..runs.catalogue import display_name
from . import paper

# A random-label control's patient-split ROC-AUC this far under 0.5 is named as noise beside its inflation.
BELOW_CHANCE = 0.05
LEAKAGE_FILE = "leakage.json"  # the leakage study with its control, at the run's root (when it was measured)
LEAKY = {"paper": "the paper's image split", "kaggle": "Kaggle's image folders", "patient": "the patient split",
         "image": "an image split"}


def _num(value: object) -> str:
    """A number to 3 decimals; "–" for none."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    return "–" if math.isnan(v) else f"{v:.3f}"



def _interval(ci: object) -> tuple[float, float]:
    try:
        low, high = list(ci)  # type: ignore[call-overload]
        return float(low), float(high)
    except (TypeError, ValueError):
        return float("nan"), float("nan")


def interval_says(ci: object, claim: str = "an effect") -> str:
    """What an interval of a difference says: above 0, below 0, or across 0 (or missing)."""
    lo, hi = _interval(ci)
    if math.isnan(lo) or math.isnan(hi):
        return "no interval could be computed"
    if lo > 0:
        return f"the whole interval lies above 0: {claim} this run can see"
    if hi < 0:
        return "the whole interval lies below 0: the opposite of " + claim
    return f"the interval includes 0: at this size, {claim} cannot be told from chance"


def ablation_finding(result: dict) -> dict:
    """One ablation.json as a finding: claim, verdict, and why (its ROC-AUC difference, interval and design)."""
    config = result.get("config", {})
    dataset, protocol = config.get("dataset", "?"), config.get("protocol", "patient")
    d = result["difference"]["roc_auc"]
    verdict = result.get("verdict") or d["verdict"]
    lo, hi = _interval(d["ci"])
    why = (f"CNN-LSTM minus the same CNN without its LSTM, on {dataset} ({LEAKY.get(protocol, protocol)}): ROC-AUC "
           f"difference {d['estimate']:+.3f}, 95% interval by patient {lo:+.3f} to {hi:+.3f}; "
           f"{interval_says(d['ci'], 'a gain from the LSTM')}.")
    seed_ci = d.get("seed_ci", result.get("seed_ci"))
    if isinstance(seed_ci, dict):
        seed_ci = seed_ci.get("roc_auc")
    if seed_ci is not None and not any(math.isnan(v) for v in _interval(seed_ci)):
        s_lo, s_hi = _interval(seed_ci)
        why += f" Over training runs the difference ranges {s_lo:+.3f} to {s_hi:+.3f} (its spread across seeds)."
    design = result.get("design")
    if isinstance(design, dict) and design:
        why += " Design: " + ", ".join(f"{k.replace('n_', '').replace('_', ' ')} {v}" for k, v in design.items()) + "."
    else:
        patients = result.get("test_patients")
        seeds = result.get("seeds", [])
        if patients:
            why += f" Seeds {', '.join(map(str, seeds))}, with {', '.join(map(str, patients))} test patients."
    if protocol != "patient":
        why += " Under an image split both arms also recognise patients, so read the patient split first."
    return {"claim": f"The LSTM improves on the same CNN, the paper's central claim ({dataset}, {protocol} split)",
            "verdict": verdict,
            "why": why, "protocol": protocol}


def read_leakage(out: Path) -> pd.DataFrame:
    """leakage.json at the run's root as rows like tables.leakage_table's (dataset, model, image_protocol,
    labels, n_seeds, each metric under each split, its inflation and interval); empty when absent."""
    path = Path(out) / LEAKAGE_FILE
    if not path.is_file():
        return pd.DataFrame()
    data = json.loads(path.read_text())
    rows = data.get("rows", []) if isinstance(data, dict) else data
    out_rows = []
    for r in rows:
        row = {"dataset": r.get("dataset"), "model": r.get("model"),
               "image_protocol": r.get("image_protocol", r.get("protocol", "paper")),
               "labels": r.get("labels", "true"), "n_seeds": r.get("n_seeds", len(r.get("seeds", [])) or None)}
        for metric in ("roc_auc", "balanced_accuracy"):
            patient = r.get("patient", {}) if isinstance(r.get("patient"), dict) else {}
            image = r.get("image", {}) if isinstance(r.get("image"), dict) else {}
            row[f"{metric} (patient split)"] = patient.get(metric, r.get(f"{metric} (patient split)"))
            row[f"{metric} (image split)"] = image.get(metric, r.get(f"{metric} (image split)"))
            inflation = r.get("inflation", {}).get(metric, {})
            row[f"{metric} inflation"] = inflation.get("estimate")
            row[f"{metric} inflation ci"] = tuple(inflation["ci"]) if inflation.get("ci") else (math.nan, math.nan)
        out_rows.append(row)
    return pd.DataFrame(out_rows)


# What the random-label rows of a leakage table show (issue 23's control).
CONTROL_READING = ("Rows marked random labels are the control: every patient carries one label drawn at random, so "
                   "nothing about cancer can be learned from them. Under the patient split such a model scores near "
                   "0.5; whatever an image split scores above 0.5 is recognition of patients, what the split offers "
                   "the very models that the paper trained.")


def is_control(row: pd.Series) -> bool:
    """A random-label row: the control that can only recognise patients."""
    return bool(row.get("labels", "true") == "random")


def _model_words(row: pd.Series) -> str:
    name = display_name(row["model"])
    return f"{name} trained on random labels" if row.get("labels", "true") == "random" else name


def _beyond_control(models: list[pd.Series], controls: list[pd.Series]) -> list[str]:
    """The models whose true-label inflation interval lies wholly above every control's interval."""
    tops = [_interval(r["roc_auc inflation ci"])[1] for r in controls]
    if not tops or any(math.isnan(t) for t in tops):
        return []
    return [_model_words(r) for r in models if _interval(r["roc_auc inflation ci"])[0] > max(tops)]


def leak_findings(leak: pd.DataFrame) -> list[dict]:
    """For each dataset and image split: how much the split inflates the model's ROC-AUC, beside the control,
    which can gain only by recognising patients."""
    out: list[dict] = []
    if leak.empty:
        return out
    for (dataset, protocol), group in leak.groupby(["dataset", "image_protocol"], sort=False):
        controls = [r for _, r in group.iterrows() if is_control(r)]
        models = [r for _, r in group.iterrows() if not is_control(r)]
        parts = []
        verdicts = []
        for r in models:
            ci = r["roc_auc inflation ci"]
            says = interval_says(ci, "a leak")
            verdicts.append(_interval(ci)[0] > 0)
            lo, hi = _interval(ci)
            parts.append(f"the {_model_words(r)} scores ROC-AUC {_num(r['roc_auc (image split)'])} split by image "
                         f"against {_num(r['roc_auc (patient split)'])} split by patient, "
                         f"{r['roc_auc inflation']:+.3f} (95% interval {_num(lo)} to {_num(hi)}): {says}")
        for r in controls:
            lo, hi = _interval(r["roc_auc inflation ci"])
            parts.append(f"the control, the {_model_words(r)}, which can only recognise patients, scores ROC-AUC "
                         f"{_num(r['roc_auc (image split)'])} split by image against "
                         f"{_num(r['roc_auc (patient split)'])} split by patient (chance: 0.5), "
                         f"{r['roc_auc inflation']:+.3f} (95% interval {_num(lo)} to {_num(hi)}): "
                         + interval_says(r["roc_auc inflation ci"], "patient recognition")
                         + (f" (part of it is the patient split's score below chance, which is noise: read the image "
                            f"split's {_num(r['roc_auc (image split)'])} against 0.5)"
                            if float(r["roc_auc (patient split)"]) < 0.5 - BELOW_CHANCE else ""))
        beyond = _beyond_control(models, controls)
        if beyond:
            parts.append(f"the {' and the '.join(beyond)} gained more than any control could (its interval lies "
                         "above the control's): beyond recognising patients, the image split put near neighbours of "
                         "the test images, with their class, in training")
        if not parts:
            continue
        text = "; ".join(parts)
        if not models:
            verdict = "control only (no model ran under both splits)"
        elif all(verdicts):
            verdict = "inflated"
        elif any(verdicts):
            verdict = "inflated for some models"
        else:
            verdict = "no leak this run can tell from chance"
        out.append({"claim": f"An image split inflates the scores ({dataset}, {LEAKY.get(str(protocol), protocol)} "
                             "against the patient split)", "verdict": verdict,
                    "why": text[0].upper() + text[1:] + "."})
    return out


def density_finding(by_density: dict[str, dict]) -> str:
    """One sentence per density of the leak-against-density measurement (docs/measurements/leak-density.json):
    the random-label control split by image against the same control split by patient (paired, on the same images),
    and the true-label inflation. Recognition is claimed only when the control's image-split interval lies above 0.5
    and its gain over the patient split's lies above 0: with few patients, random labels can correlate with the
    slides by chance, and the patient split's control shows how much."""
    parts = []
    for row in sorted(by_density.values(), key=lambda r: r["patches_per_patient"]):
        image, patient = (row["arms"][a]["roc_auc"] for a in ("cnn_random_image", "cnn_random_patient"))
        gain = row["differences"]["cnn_random_image - cnn_random_patient"]["roc_auc"]
        lo, hi = _interval(image["ci"])
        glo, ghi = _interval(gain["ci"])
        if lo > 0.5 and glo > 0:
            reading = "the image split let the model recognise patients"
        elif lo > 0.5:
            reading = ("above 0.5, but its gain over the same control split by patient cannot be told from chance "
                       "at this size")
        else:
            reading = "no recognition this measurement can show"
        leak = row["differences"]["cnn_image - cnn_patient"]["roc_auc"]
        llo, lhi = _interval(leak["ci"])
        parts.append(f"at {row['patches_per_patient']:.0f} patches per patient, the random-label CNN scores ROC-AUC "
                     f"{_num(image['estimate'])} ({_num(lo)} to {_num(hi)}) split by image against "
                     f"{_num(patient['estimate'])} split by patient, {gain['estimate']:+.3f} ({_num(glo)} to "
                     f"{_num(ghi)}): {reading}; with true labels the image split adds {leak['estimate']:+.3f} "
                     f"({_num(llo)} to {_num(lhi)}): {interval_says(leak['ci'], 'a leak')}")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "." if text else "No density was measured."


def adopted_changes(defaults: dict, baseline: str = "cnn_lstm") -> list[str]:
    """The budget changes that the defaults measurement (docs/measurements/defaults-cohort.json) supports: a change
    is adopted only when its patient interval of the ROC-AUC difference lies above 0 and its balanced accuracy's
    does not lie below 0; every other change leaves the default as it is."""
    out = []
    for pair, d in defaults["differences"].items():
        change, base = pair.split(" - ")
        if base == baseline and change != defaults.get("together") and _interval(d["roc_auc"]["ci"])[0] > 0 and \
                not _interval(d["balanced_accuracy"]["ci"])[1] < 0:
            out.append(change)
    return out


def defaults_finding(defaults: dict, names: dict[str, str], baseline: str = "cnn_lstm") -> str:
    """One clause per change of the CNN-LSTM's budget, against the default on the same test patients, and which
    changes the rule of adopted_changes takes."""
    together = defaults.get("together")
    parts = {}
    for pair, d in defaults["differences"].items():
        change = pair.split(" - ")[0]
        r, b = d["roc_auc"], d["balanced_accuracy"]
        parts[change] = (f"ROC-AUC {r['estimate']:+.3f} ({_num(r['ci'][0])} to {_num(r['ci'][1])}), balanced "
                         f"accuracy {b['estimate']:+.3f} ({_num(b['ci'][0])} to {_num(b['ci'][1])})")
    adopted = adopted_changes(defaults, baseline)
    base = defaults["arms"][baseline]["roc_auc"]
    verdict = ("so the defaults adopt " + ", ".join(names.get(a, a) for a in adopted) if adopted else
               "no change clears the rule, so the defaults stay as they are")
    one_at_a_time = "; ".join(f"{names.get(c, c)}: {text}" for c, text in parts.items() if c != together)
    text = (f"Against the former defaults (ROC-AUC {_num(base['estimate'])} on "
            f"{defaults['design']['n_test_patients']} test patients), each change's difference with its 95% interval "
            f"by patient: {one_at_a_time}. A change is adopted only when its ROC-AUC interval lies above 0 and its "
            f"balanced accuracy's does not lie below 0: {verdict}.")
    if together in parts:
        text += f" Measured together, on the same patients, the adopted changes give {parts[together]}."
    return text


def ranking_findings(runs: pd.DataFrame, datasets: list[str]) -> list[dict]:
    """Per dataset, the paper's ranking (CNN-LSTM first) against ours on the patient split, collapsed runs set
    aside: first only when its interval clears every other trained model's."""
    out: list[dict] = []
    if runs.empty:
        return out
    for dataset in datasets:
        part = runs[(runs["dataset"] == dataset) & (runs["protocol"] == "patient")]
        if part.empty:
            continue
        trained = part[part.get("reading", pd.Series("", index=part.index)) != "collapsed"]
        collapsed = sorted(set(part["model"]) - set(trained["model"]))
        note = (f" Collapsed (untrained, set aside): {', '.join(display_name(m) for m in collapsed)}."
                if collapsed else "")
        hybrid = trained[trained["model"] == "cnn_lstm"]
        if hybrid.empty:
            out.append({"claim": f"The CNN-LSTM ranks first ({dataset})", "verdict": "not tested here",
                        "why": "No trained CNN-LSTM run on the patient split." + note})
            continue
        h = hybrid.iloc[0]
        lo, hi = _interval(h["roc_auc_ci"])
        others = trained[trained["model"] != "cnn_lstm"]
        above = [m for m, ci in zip(others["model"], others["roc_auc_ci"], strict=True) if _interval(ci)[0] > hi]
        below = [m for m, ci in zip(others["model"], others["roc_auc_ci"], strict=True) if _interval(ci)[1] < lo]
        if others.empty:
            verdict = "not tested here (no other trained model)"
        elif len(below) == len(others):
            verdict = "holds up"
        elif above:
            verdict = "does not hold up"
        else:
            verdict = "not shown: the intervals overlap"
        best = trained.sort_values("roc_auc", ascending=False).iloc[0]
        theirs = paper.RESULTS[(paper.RESULTS["model"] == "cnn_lstm")
                               & (paper.RESULTS["dataset"] == _paper_dataset(dataset))]
        quoted = (f"The paper reports the CNN-LSTM first at accuracy {theirs['accuracy'].iat[0]:.3f}, on a split "
                  "it does not state. " if not theirs.empty else "")
        why = (f"{quoted}Ours, split by patient ({h['n_patients']} test patients): the CNN-LSTM's ROC-AUC is "
               f"{h['roc_auc']:.3f} (95% interval {lo:.3f}-{hi:.3f}); the highest is {display_name(best['model'])}'s "
               f"{best['roc_auc']:.3f}. Clearly below it: {', '.join(map(display_name, below)) or 'none'}; clearly "
               f"above it: {', '.join(map(display_name, above)) or 'none'}.{note}")
        out.append({"claim": f"The CNN-LSTM ranks first ({dataset})", "verdict": verdict, "why": why})
    return out


def _paper_dataset(dataset: str) -> str:
    return facts(dataset).paper_dataset


def findings(ablations: list[dict], runs: pd.DataFrame, datasets: list[str], leak: pd.DataFrame) -> list[dict]:
    """What holds up and what does not, in order: the ablations (each ablation.json's content; patient split
    first), the leak with its control, the ranking beside the paper's."""
    ablations = sorted((ablation_finding(r) for r in ablations),
                       key=lambda f: f["protocol"] != "patient")
    return [*ablations, *leak_findings(leak), *ranking_findings(runs, datasets)]
