"""Facts about each dataset the workbook knows, in one table: synthetic or real, its layouts and default folder,
the paper's dataset it stands for, its leaky protocol, its expected size and how to get it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..errors import LayoutError

SAMPLE_FOLDER = "sample"
SAMPLE_COMMAND = f"python -m bc_helpers sample --out data/{SAMPLE_FOLDER}"


@dataclass(frozen=True)
class DatasetFacts:
    """One dataset: what it is, where it lives and what it maps to."""

    name: str
    synthetic: bool
    layouts: tuple[str, ...]  # the layouts (see `layouts`) its folder may have, tried in order
    folder: str  # its default folder, under data/
    paper_dataset: str  # the paper's dataset it stands for: "idc" or "breakhis"
    leaky_protocol: str  # the image-level split that leaks patients: "paper" (IDC-like) or "kaggle" (BreaKHis folders)
    how_to_get: str
    images: int | None = None  # the full dataset's image count, where known

    @property
    def image_protocols(self) -> tuple[str, ...]:
        """The image-level splits it is trained under in the leakage study: its leaky protocol, then `paper` (the
        course's reading of the paper's split) where that is another one."""
        return tuple(dict.fromkeys((self.leaky_protocol, "paper")))


DATASETS = {
    facts.name: facts
    for facts in (
        DatasetFacts("sample", True, ("idc",), f"{SAMPLE_FOLDER}/idc", "idc", "paper",
                     f"generated: `{SAMPLE_COMMAND}` or `make setup`"),
        DatasetFacts("sample_breakhis", True, ("breakhis_kaggle",), f"{SAMPLE_FOLDER}/breakhis", "breakhis", "kaggle",
                     f"generated: `{SAMPLE_COMMAND}` or `make setup`"),
        DatasetFacts("idc", False, ("idc",), "raw/idc", "idc", "paper",
                     "downloaded: `data/fetch.sh idc` (Kaggle), or pass --data-dir", images=277_524),
        DatasetFacts("breakhis", False, ("breakhis_kaggle", "breakhis_v1"), "raw/breakhis", "breakhis", "kaggle",
                     "downloaded: `data/fetch.sh breakhis` (Kaggle), or pass --data-dir"),
    )
}
# The dataset a layout's folders belong to, for the hint when a folder matches another dataset's layout.
LAYOUT_DATASET = {"idc": "idc", "breakhis_kaggle": "breakhis", "breakhis_v1": "breakhis"}


def facts(dataset: str) -> DatasetFacts:
    """The facts of a dataset name; an unknown name is a LayoutError that lists the known ones."""
    if dataset not in DATASETS:
        raise LayoutError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    return DATASETS[dataset]


def is_synthetic(dataset: str) -> bool:
    """Whether the dataset is the generated sample (not patient data)."""
    return facts(dataset).synthetic


def default_data_dir(dataset: str) -> Path:
    """Where a dataset lives when no folder is given: BC_<DATASET>_DIR (set on Kaggle for an attached dataset),
    else its folder under data/."""
    override = os.environ.get(f"BC_{dataset.upper()}_DIR")
    return Path(override) if override else paths.data_dir() / facts(dataset).folder


def sample_root() -> Path:
    """The folder the synthetic sample is generated into (its datasets are subfolders)."""
    return paths.data_dir() / SAMPLE_FOLDER


def full_epoch_seconds(images_per_second: float, dataset: str = "idc") -> float | None:
    """Seconds one pass over every image of the full dataset takes at a measured rate (None if its size is unknown)."""
    images = facts(dataset).images
    return None if images is None else images / images_per_second
