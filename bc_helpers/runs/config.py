"""A run's settings, and the valid names of each: checked when a config is made, so that a misspelt protocol
fails at once, before a run folder or a cache is written. The modules that act on a name (splits, balance,
stain, decisions, distributed) take their list from here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import WorkbookError

PROTOCOLS = ("patient", "paper", "kaggle")  # the patient split (honest), the paper's image split, Kaggle's folders
BALANCES = ("smote_hybrid", "class_weight", "none")
STAINS = ("none", "augment", "normalise")  # none, H&E jitter (training only), Reinhard normalisation
THRESHOLD_METHODS = ("youden", "sensitivity", "fixed")
OUTPUTS = ("sigmoid", "softmax")
STRATEGIES = ("auto", "default", "mirrored", "multiworker")
IF_EXISTS = ("error", "rename", "reuse")
# "random": the control that can only see patients (data.splits.random_patient_labels): every patient one label,
# drawn with the class shares kept, carried by all its images.
LABELS = ("true", "random")


def check_choice(what: str, value: object, choices: Sequence[str]) -> None:
    """Raise a WorkbookError naming the valid choices when `value` is not one of them."""
    if value not in choices:
        raise WorkbookError(f"unknown {what} {value!r}: choose one of {', '.join(choices)}")


@dataclass
class TrainConfig:
    """Everything that defines a run; saved as config.json and compared when a run is resumed."""

    dataset: str = "sample"
    data_dir: str | None = None
    model: str = "cnn_lstm"
    epochs: int = 10
    image_size: int = 50
    batch_size: int = 32
    protocol: str = "patient"
    balance: str = "smote_hybrid"
    seed: int = 0
    learning_rate: float = 1e-3
    patience: int = 3
    output: str = "sigmoid"
    augment: bool = True
    stain: str = "none"
    threshold: str = "youden"
    target_sensitivity: float = 0.95
    review_width: float = 0.1  # the share of each predicted class nearest the threshold that is referred for review
    max_train_images: int | None = None
    deterministic: bool = False
    tensorboard: bool = False
    hparams: dict = field(default_factory=dict)
    labels: str = "true"

    def __post_init__(self) -> None:
        check_choice("protocol", self.protocol, PROTOCOLS)
        check_choice("balance", self.balance, BALANCES)
        check_choice("stain", self.stain, STAINS)
        check_choice("threshold", self.threshold, THRESHOLD_METHODS)
        check_choice("output", self.output, OUTPUTS)
        check_choice("labels", self.labels, LABELS)
