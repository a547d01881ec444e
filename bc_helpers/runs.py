"""Run folders: the settings that define a run, and a folder for them that never overwrites another run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import WorkbookError

IF_EXISTS = ("error", "rename", "reuse")
STRATEGIES = ("auto", "default", "mirrored", "multiworker")
MODEL_NOTEBOOKS = {
    "cnn": "03_cnn", "lstm": "04_lstm", "gru": "05_gru", "vgg16": "06_vgg16", "resnet50": "07_resnet50",
    "cnn_lstm": "08_cnn_lstm",
}


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
    stain: str = "none"  # stain.STAINS: augment (H&E jitter, training only), normalise (Reinhard)
    threshold: str = "youden"
    target_sensitivity: float = 0.95
    review_width: float = 0.1
    max_train_images: int | None = None
    deterministic: bool = False
    tensorboard: bool = False
    hparams: dict = field(default_factory=dict)



def run_path(root: str | Path, config: TrainConfig) -> Path:
    """Where the workbook keeps a run: <root>/<dataset>/<protocol>/<model>."""
    return Path(root) / config.dataset / config.protocol / config.model


def same_config(run_dir: Path, config: TrainConfig) -> bool:
    saved = run_dir / "config.json"
    return saved.exists() and json.loads(saved.read_text()).get("train") == json.loads(json.dumps(asdict(config)))


def is_finished(run_dir: Path) -> bool:
    return (run_dir / "metrics.json").exists()


def prepare_run_dir(run_dir: str | Path, config: TrainConfig, if_exists: str = "error") -> Path:
    """A run folder for `config`. An unfinished run of the same config is resumed; a finished run of the
    same config is kept as it is with if_exists='reuse'; any other run is never overwritten: an error, or a
    new name (RUN_DIR-2, -3, ...) with if_exists='rename'."""
    run_dir = Path(run_dir)
    if not run_dir.exists() or not any(run_dir.iterdir()):
        run_dir.mkdir(parents=True, exist_ok=True)
        return run_dir
    if same_config(run_dir, config) and (not is_finished(run_dir) or if_exists == "reuse"):
        return run_dir
    if if_exists == "rename":
        k = 2
        while Path(f"{run_dir}-{k}").exists():
            k += 1
        return prepare_run_dir(f"{run_dir}-{k}", config, if_exists)
    raise WorkbookError(
        f"{run_dir} already holds another run (finished, or made with other settings): choose another "
        "--out, pass --if-exists rename to write beside it, or --if-exists reuse to keep a finished run of "
        "the same settings. Nothing was overwritten."
    )
