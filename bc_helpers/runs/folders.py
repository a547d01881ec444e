"""Run folders: the settings that define a run, the folder's artefacts (their names, reading and writing them),
and a folder for a run that never overwrites another run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from itertools import count, takewhile
from pathlib import Path
from typing import overload

import pandas as pd

from ..errors import WorkbookError
from ..files import write_csv_atomic, write_json_atomic
from .config import TrainConfig
from .records import MetricsRecord

ARMS = ("cnn", "cnn_lstm")  # the ablation's two arms
ABLATION_DIR = "ablation"  # under <RUN_DIR>/<dataset>/<protocol>/: the arms that are not the notebook's main run
ABLATION_FILE = "ablation.json"


class _Artefact:
    """A file or folder of every run, read as `run.<name>`: its path in that run's folder."""

    def __init__(self, name: str, doc: str) -> None:
        self.name, self.__doc__ = name, doc

    @overload
    def __get__(self, run: None, owner: type) -> _Artefact: ...

    @overload
    def __get__(self, run: RunFolder, owner: type) -> Path: ...

    def __get__(self, run: RunFolder | None, owner: type) -> _Artefact | Path:
        return self if run is None else run.path / self.name


@dataclass(frozen=True, init=False)
class RunFolder:
    """One run's folder. It alone knows the artefacts' file names; every module reads and writes them through it.

    model.keras (the trained model), config.json (settings, index summary, versions), split.csv (each image's part),
    history.csv (a row per epoch), predictions.csv (validation and test probabilities), untrained.csv (the test
    probabilities of the network as it started), metrics.json (written last: the run is finished), backup/ (the
    resumable checkpoint while training), tensorboard/ (logs, when asked).
    """

    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    model = _Artefact("model.keras", "The trained model (Keras's .keras format).")
    config = _Artefact("config.json", "The settings that define the run, with what they produced (index summary, "
                       "balance, versions).")
    split = _Artefact("split.csv", "Each image's part (train, val, test).")
    history = _Artefact("history.csv", "One row per epoch: the losses and accuracies fit logs.")
    predictions = _Artefact("predictions.csv", "Validation and test images with their probability, predicted label "
                            "and review flag.")
    untrained = _Artefact("untrained.csv", "The test images' probabilities from the network as it started, before "
                          "any training: the control that says whether training changed its ranking.")
    metrics = _Artefact("metrics.json", "The test metrics; written last, so its presence means the run finished.")
    backup = _Artefact("backup", "The resumable checkpoints kept while training (removed when training ends).")
    tensorboard = _Artefact("tensorboard", "TensorBoard logs (with --tensorboard).")

    def checkpoint(self, epochs: int) -> Path:
        """The checkpoint after `epochs` completed epochs: model weights and optimizer state."""
        return self.backup / f"epoch-{epochs:04d}.weights.h5"

    def completed_epochs(self) -> int:
        """The completed epochs the newest checkpoint holds (0: none). The number is in the file's name, which
        appears only once the file is whole (it is written under another name, then renamed)."""
        found = sorted(self.backup.glob(self.checkpoint(0).name.replace("0000", "*")))
        return int(found[-1].name.split(".")[0].split("-")[1]) if found else 0

    def is_finished(self) -> bool:
        """Whether the run wrote its metrics."""
        return self.metrics.exists()

    def read_metrics(self) -> dict:
        """metrics.json's content."""
        return json.loads(self.metrics.read_text())

    def read_record(self) -> MetricsRecord:
        """metrics.json as a typed record; an unknown or a missing key is an error that names the file."""
        return MetricsRecord.from_json(self.read_metrics(), str(self.metrics))

    def write_metrics(self, metrics: dict) -> None:
        """Write metrics.json (atomically: a crash never leaves half a file)."""
        write_json_atomic(self.metrics, metrics)

    def read_config(self) -> dict | None:
        """config.json's content, or None before the run wrote it."""
        return json.loads(self.config.read_text()) if self.config.exists() else None

    def write_config(self, payload: dict) -> None:
        """Write config.json atomically."""
        write_json_atomic(self.config, payload)

    def same_config(self, config: TrainConfig) -> bool:
        """Whether the folder holds a run of exactly these settings."""
        saved = self.read_config()
        return saved is not None and saved.get("train") == json.loads(json.dumps(asdict(config)))

    def read_history(self) -> pd.DataFrame:
        """history.csv, a row per epoch."""
        return pd.read_csv(self.history)

    def write_history(self, history: pd.DataFrame) -> None:
        """Write history.csv atomically."""
        write_csv_atomic(self.history, history)

    def write_split(self, split: pd.DataFrame) -> None:
        """Write split.csv atomically."""
        write_csv_atomic(self.split, split)

    def read_predictions(self, part: str | None = None) -> pd.DataFrame:
        """predictions.csv, all rows or only those of one part ("val" or "test")."""
        frame = pd.read_csv(self.predictions, dtype={"patient": str})
        return frame if part is None else frame[frame["part"] == part].reset_index(drop=True)

    def write_predictions(self, predictions: pd.DataFrame) -> None:
        """Write predictions.csv atomically."""
        write_csv_atomic(self.predictions, predictions)


def find_runs(root: str | Path) -> list[RunFolder]:
    """Every finished run folder under `root`, in path order."""
    probe = RunFolder(Path(root)).metrics.name
    return [RunFolder(path.parent) for path in sorted(Path(root).rglob(probe))]


def run_path(root: str | Path, config: TrainConfig) -> Path:
    """Where the workbook keeps a run: <root>/<dataset>/<protocol>/<model>."""
    return Path(root) / config.dataset / config.protocol / config.model


def same_config(run_dir: str | Path, config: TrainConfig) -> bool:
    """Whether `run_dir` holds a run of exactly these settings."""
    return RunFolder(run_dir).same_config(config)


def is_finished(run_dir: str | Path) -> bool:
    """Whether the run in `run_dir` wrote its metrics."""
    return RunFolder(run_dir).is_finished()


def same_name_runs(run_dir: str | Path) -> list[Path]:
    """`run_dir`, then the folders that if_exists='rename' wrote beside it (run_dir-2, -3, ...), in that order."""
    run_dir = Path(run_dir)
    return [run_dir, *takewhile(Path.exists, (Path(f"{run_dir}-{k}") for k in count(2)))]


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
        return prepare_run_dir(f"{run_dir}-{len(same_name_runs(run_dir)) + 1}", config, if_exists)
    raise WorkbookError(
        f"{run_dir} already holds another run (finished, or made with other settings): choose another "
        "--out, pass --if-exists rename to write beside it, or --if-exists reuse to keep a finished run of "
        "the same settings. Nothing was overwritten."
    )


def arm_dir(root: str | Path, config: TrainConfig) -> Path:
    """Where an arm other than the notebook's main run lives: <root>/<dataset>/<protocol>/ablation/seed-<k>/<model>."""
    return run_path(root, config).parent / ABLATION_DIR / f"seed-{config.seed}" / config.model
