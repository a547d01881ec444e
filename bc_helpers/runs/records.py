"""A run's metrics file (RunFolder.metrics) as a typed record: a misspelt field fails in the type checker, and a
file with a key the record does not know (or without one it needs) fails when it is read, naming the file and the key.

The JSON stays as `train` writes it (training/trainer.py evaluate_run, evaluation/metrics.py evaluation_report):
`to_json` gives the same keys and values back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from ..errors import WorkbookError

Interval = tuple[float, float]


def _check_keys(cls: type, data: Mapping[str, Any], where: str) -> None:
    """Refuse keys `cls` lacks and fields without a default that `data` lacks; `where` names the file (and part)."""
    known = {f.name for f in fields(cls)}
    required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
    unknown, missing = sorted(set(data) - known), sorted(required - set(data))
    if unknown:
        raise WorkbookError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))}); "
                            "a misspelt key, or a file not written by `train`")
    if missing:
        raise WorkbookError(f"{where}: the key {missing[0]!r} is missing; a file not written by `train`, or cut short")


@dataclass(frozen=True, kw_only=True)
class Confusion:
    """The confusion matrix's four counts at the run's threshold."""

    tn: int
    fp: int
    fn: int
    tp: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> Confusion:
        _check_keys(cls, data, where)
        return cls(**data)


@dataclass(frozen=True, kw_only=True)
class Weighted:
    """Support-weighted averages over both classes (weighted recall equals accuracy)."""

    precision: float
    recall: float
    f1: float

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> Weighted:
        _check_keys(cls, data, where)
        return cls(**data)


@dataclass(frozen=True, kw_only=True)
class Timing:
    """How long training and inference took."""

    train_seconds: float
    seconds_per_epoch: float
    train_images: int
    inference_ms_per_image: float

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> Timing:
        _check_keys(cls, data, where)
        return cls(**data)


@dataclass(frozen=True, kw_only=True)
class BinaryMetrics:
    """Image-level metrics of one part at one threshold (evaluation.metrics.binary_metrics): `val` of a record,
    and the first fields of the record itself (the test part)."""

    n_images: int
    threshold: float
    accuracy: float
    sensitivity: float
    specificity: float
    precision: float
    f1: float
    balanced_accuracy: float
    roc_auc: float
    pr_auc: float
    brier: float
    ece: float
    confusion: Confusion
    weighted: Weighted

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> BinaryMetrics:
        _check_keys(cls, data, where)
        return cls(**{**data, **_binary_parts(data, where)})

    def to_json(self) -> dict[str, Any]:
        """The JSON object, as binary_metrics returns it."""
        return asdict(self)


def _binary_parts(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    return {"confusion": Confusion.from_json(data["confusion"], f"{where}: confusion"),
            "weighted": Weighted.from_json(data["weighted"], f"{where}: weighted")}


@dataclass(frozen=True, kw_only=True)
class MetricsRecord(BinaryMetrics):
    """A finished run's metrics file: the test part's metrics (the fields of BinaryMetrics), their intervals by
    patient, the patient level, the run's settings and how the threshold was chosen, the validation part's
    metrics, the review band, the leak, and the timing. Fields that newer runs add have a default, so older
    files still read."""

    n_patients: int
    ci: dict[str, Interval]  # per metric in evaluation.metrics.CI_METRICS: the interval by patient
    bootstrap: dict[str, float | str | None]  # what the patient bootstrap's draws were (metrics.bootstrap)
    patient_level: dict[str, float]  # metrics.patient_metrics: which keys hold numbers depends on the labels
    model: str
    dataset: str
    protocol: str
    run_dir: str
    balance: str
    image_size: int
    threshold_method: str
    threshold_rule: str
    threshold_note: str
    synthetic: bool
    labels: str = "true"  # "random": a control run trained and scored on random patient labels
    control: bool = False  # written only when True
    val: BinaryMetrics
    review: dict[str, float]  # decisions.coverage_table's row at the run's review width
    leak: dict[str, float]  # data.splits.patient_overlap
    # evaluation.paired.training_gain against the network as it started; written only by runs that recorded it
    untrained: dict[str, Any] | None = None
    epochs_run: int
    best_epoch: int
    timing: Timing

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "the metrics") -> MetricsRecord:
        """The record of the metrics file's content; `where` (the file) names it in an error."""
        _check_keys(cls, data, where)
        return cls(**{**data, **_binary_parts(data, where),
                      "ci": {name: (lo, hi) for name, (lo, hi) in data["ci"].items()},
                      "val": BinaryMetrics.from_json(data["val"], f"{where}: val"),
                      "timing": Timing.from_json(data["timing"], f"{where}: timing")})

    def to_json(self) -> dict[str, Any]:
        """The metrics file's content: intervals as [low, high]; `control` only for a control run, `untrained` only
        for a run that recorded its start."""
        content = asdict(self) | {"ci": {name: list(interval) for name, interval in self.ci.items()}}
        if not self.control:
            del content["control"]
        if self.untrained is None:
            del content["untrained"]
        return content
