"""The one owner of resampling by patient: bootstrap draws of test patients, percentile intervals and p-values,
the interval over seeds, and the rule that says when a test set is too small to decide anything.

Images of one patient are not independent (the same tissue, stain and scanner; a model that misreads a patient
misreads many of its images), so the unit of resampling is the patient. A draw is a row of counts, how often
each patient was drawn. Every arm and every seed scored on the same patients reads the SAME row, so what the
patients share cancels in a difference, as it does in the data. The draw keeps the number of patients of each
class mix (negative only, positive only, both): every draw then holds both classes, none is dropped, and a
difference is never computed on a draw that a model could not be scored on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

# A verdict needs at least this many test patients, and each class from at least MIN_PATIENTS_PER_CLASS of
# them: with fewer, the bootstrap has a handful of distinct resamples and its intervals miss far more often
# than they promise (the coverage tests in tests/test_coverage.py show both sides of the line).
MIN_PATIENTS = 10
MIN_PATIENTS_PER_CLASS = 2
TOO_FEW = "too few patients"
VERDICTS = ("supported", "not supported", "inconclusive", TOO_FEW)


def class_mix(labels: np.ndarray, patients: np.ndarray) -> pd.Series:
    """Per patient (sorted by name): 0 if all its images are negative, 1 if all positive, 2 if it holds both."""
    frame = pd.DataFrame({"patient": np.asarray(patients).astype(str), "label": np.asarray(labels).astype(int)})
    share = frame.groupby("patient")["label"].mean()
    return pd.Series(np.where(share == 0, 0, np.where(share == 1, 1, 2)), index=share.index, name="mix")


def decidable(labels: np.ndarray, patients: np.ndarray) -> tuple[bool, str]:
    """Whether a test set can carry a verdict, and why (not): at least MIN_PATIENTS patients, and each class
    among the images of at least MIN_PATIENTS_PER_CLASS patients."""
    mix = class_mix(labels, patients)
    k = len(mix)
    with_class = {c: int(((mix == c) | (mix == 2)).sum()) for c in (0, 1)}
    if k < MIN_PATIENTS:
        return False, f"{TOO_FEW}: {k} test patients, at least {MIN_PATIENTS} needed"
    for c, name in ((0, "negative"), (1, "positive")):
        if with_class[c] < MIN_PATIENTS_PER_CLASS:
            return False, (f"{TOO_FEW}: the {name} images come from {with_class[c]} patient(s), at least "
                           f"{MIN_PATIENTS_PER_CLASS} needed")
    return True, f"{k} test patients, {with_class[0]} with negative and {with_class[1]} with positive images"


@dataclass(frozen=True)
class PatientDraws:
    """Stratified bootstrap draws over a fixed list of patients (`names`, sorted), as counts (n_boot, k)."""

    names: np.ndarray
    mix: np.ndarray  # each patient's class mix (class_mix)

    @classmethod
    def of(cls, labels: np.ndarray, patients: np.ndarray) -> PatientDraws:
        """The draws over every patient in `patients` (the union of all test sets to be scored)."""
        mix = class_mix(labels, patients)
        return cls(mix.index.to_numpy(dtype=str), mix.to_numpy())

    def codes(self, patients: np.ndarray) -> np.ndarray:
        """Each image's patient as a column of the counts."""
        return np.searchsorted(self.names, np.asarray(patients).astype(str))

    def counts(self, n_boot: int, seed: int = 0) -> np.ndarray:
        """How often each patient is drawn in each of n_boot draws (k patients drawn with replacement). Not
        stratified by class mix: a stratum of one or two patients would barely vary, and intervals shrank
        by a quarter on simulated ten-patient test sets. A draw that leaves a class without images scores NaN
        and is left out (and counted)."""
        rng = np.random.default_rng(seed)
        k = len(self.names)
        picked = rng.integers(0, k, (n_boot, k))
        out = np.zeros((n_boot, k))
        np.add.at(out, (np.repeat(np.arange(n_boot), k), picked.ravel()), 1.0)
        return out


def _tail(level: float, n_patients: int | None) -> float:
    """The share of draws cut off at each end for a `level` interval. With n_patients, Hesterberg's (2015)
    expanded percentile interval: the percentile interval is too narrow with few patients (the bootstrap's
    variance is (n-1)/n of the truth, and Student's t is wider than the normal), so the cut moves to
    Phi(-sqrt(n/(n-1)) t_{n-1}); with 10 patients 0.9% instead of 2.5%."""
    alpha = (1 - level) / 2
    if not n_patients or n_patients < 3:
        return alpha
    n = n_patients
    return float(stats.norm.cdf(-np.sqrt(n / (n - 1)) * stats.t.ppf(1 - alpha, n - 1)))


def percentile_interval(draws: np.ndarray, level: float = 0.95, n_patients: int | None = None) -> list[float]:
    """The percentile interval of bootstrap draws (NaN draws left out; NaN if none is left), expanded for the
    number of patients resampled when it is given (see _tail)."""
    kept = np.asarray(draws, dtype=float)
    kept = kept[~np.isnan(kept)]
    if not len(kept):
        return [float("nan")] * 2
    tail = _tail(level, n_patients)
    return [float(np.quantile(kept, tail)), float(np.quantile(kept, 1 - tail))]


def percentile_p(draws: np.ndarray, n_patients: int | None = None) -> float:
    """Two-sided p-value of 'no difference' that agrees with percentile_interval: the smallest 1 - level whose
    interval excludes 0. The share of draws on the smaller side of 0 ((1 + count) / (1 + draws), never 0) is
    read back through the expansion of _tail. 1.0 when every draw is 0."""
    kept = np.asarray(draws, dtype=float)
    kept = kept[~np.isnan(kept)]
    if not len(kept) or not np.any(kept):
        return 1.0
    share = min(0.5, (1 + min(np.sum(kept <= 0), np.sum(kept >= 0))) / (1 + len(kept)))
    if not n_patients or n_patients < 3:
        return float(2 * share)
    n = n_patients
    t = -stats.norm.ppf(share) / np.sqrt(n / (n - 1))
    return float(2 * stats.t.sf(t, n - 1))


def seed_interval(values: Sequence[float], level: float = 0.95) -> list[float]:
    """Training variance: Student's t interval of the mean over seeds (or repeats) of a per-seed figure, on
    the test patients given; NaN with fewer than 2 seeds. The t interval, not a percentile one, because there
    are few seeds."""
    v = np.asarray([x for x in values if not np.isnan(x)], dtype=float)
    if len(v) < 2:
        return [float("nan")] * 2
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return [float(v.mean() - half), float(v.mean() + half)]


def verdict(ci: Sequence[float], is_decidable: bool = True) -> str:
    """What an interval of a difference (A - B) says about the claim that A does better: one of VERDICTS."""
    if not is_decidable:
        return TOO_FEW
    low, high = ci
    if np.isnan(low) or np.isnan(high) or low <= 0 <= high:
        return "inconclusive"
    return "supported" if low > 0 else "not supported"
