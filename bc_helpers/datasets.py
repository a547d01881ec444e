"""Index a dataset folder into one table, a row per image, and report every problem found.

Layouts understood:
- IDC (Kaggle `paultimothymooney/breast-histopathology-images`):
  `<root>/<patient>/<0|1>/<patient>_idx5_x<X>_y<Y>_class<L>.png`, with the archive's second
  copy under `<root>/IDC_regular_ps50_idx5/` indexed once.
- BreaKHis 400X (Kaggle `forderation/breakhis-400x`):
  `<root>/BreaKHis 400X/{train,test}/{benign,malignant}/SOB_<B|M>_<type>-14-<slide>-400-<n>.png`.
- BreaKHis_v1 (the original release):
  `.../histology_slides/breast/{benign,malignant}/SOB/<type>/<slide>/<40X|100X|200X|400X>/*.png`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import paths
from .errors import DataProblemError, LabelMismatchError, LayoutError
from .files import write_json_atomic
from .images import ImageInfo, ImageProblem, inspect_image

IDC_PATCH = 50
IDC_DUPLICATE_TREE = "IDC_regular_ps50_idx5"
IDC_NAME = re.compile(r"^(?P<patient>\d+)_idx5_x(?P<x>\d+)_y(?P<y>\d+)_class(?P<label>[01])\.png$")
BREAKHIS_NAME = re.compile(
    r"^SOB_(?P<cls>[BM])_(?P<subtype>[A-Z]+)-(?P<year>\d+)-(?P<slide>(?P<patient>\d+)[A-Z]*)"
    r"-(?P<mag>\d+)-(?P<n>\d+)\.png$",
    re.IGNORECASE,
)
BREAKHIS_KAGGLE_TOP = "BreaKHis 400X"
BREAKHIS_CLASSES = {"benign": 0, "malignant": 1}
MAGNIFICATIONS = ("40X", "100X", "200X", "400X")

LAYOUT_HELP = {
    "idc": "<root>/<patient>/<0|1>/<patient>_idx5_x<X>_y<Y>_class<L>.png "
    f"(optionally also under <root>/{IDC_DUPLICATE_TREE}/)",
    "breakhis_kaggle": f"<root>/{BREAKHIS_KAGGLE_TOP}/{{train,test}}/{{benign,malignant}}/SOB_*.png",
    "breakhis_v1": "<root>/.../histology_slides/breast/{benign,malignant}/SOB/<type>/<slide>/<mag>/*.png",
}

LAYOUT_DATASET = {"idc": "idc", "breakhis_kaggle": "breakhis", "breakhis_v1": "breakhis"}

# Each dataset name: the layouts it accepts and where its data lives by default.
DATASETS = {
    "sample": (("idc",), "sample/idc"),
    "sample_breakhis": (("breakhis_kaggle",), "sample/breakhis"),
    "idc": (("idc",), "raw/idc"),
    "breakhis": (("breakhis_kaggle", "breakhis_v1"), "raw/breakhis"),
}

COLUMNS = [
    "path", "patient", "label", "width", "height", "mode", "x", "y",
    "subtype", "slide", "folder_split", "magnification",
]


@dataclass
class Problem:
    path: str
    reason: str


@dataclass
class Candidate:
    """A file found in a layout, with what its path and name say about it."""

    path: Path
    patient: str
    label: int
    x: int | None = None
    y: int | None = None
    subtype: str | None = None
    slide: str | None = None
    folder_split: str | None = None
    magnification: str | None = None


@dataclass
class DatasetIndex:
    """One table, a row per usable image, with every file that was skipped or changed and why."""

    dataset: str
    layout: str
    root: Path
    table: pd.DataFrame
    skipped: list[Problem] = field(default_factory=list)
    converted: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    duplicates: int = 0
    key: str = ""

    @property
    def padded(self) -> int:
        """Images smaller than the patch size (IDC edge patches), padded with white when cached."""
        if self.layout != "idc":
            return 0
        small = (self.table["width"] < IDC_PATCH) | (self.table["height"] < IDC_PATCH)
        return int(small.sum())

    def summary(self) -> dict:
        """The JSON that `python -m bc_helpers index` prints."""
        labels = self.table["label"].value_counts()
        return {
            "dataset": self.dataset,
            "layout": self.layout,
            "root": str(self.root),
            "images": int(len(self.table)),
            "patients": int(self.table["patient"].nunique()),
            "labels": {str(k): int(labels.get(k, 0)) for k in (0, 1)},
            "skipped": [vars(p) for p in self.skipped],
            "converted": [vars(p) for p in self.converted],
            "padded": self.padded,
            "padding": f"images smaller than {IDC_PATCH}x{IDC_PATCH} are padded with white "
            "at the bottom and right, never resized" if self.layout == "idc" else None,
            "duplicates_ignored": self.duplicates,
            "warnings": [vars(p) for p in self.warnings],
        }

    def problems(self) -> list[str]:
        """Every problem as one line, for strict mode."""
        lines = [f"skipped {p.path}: {p.reason}" for p in self.skipped]
        lines += [f"converted {p.path}: {p.reason}" for p in self.converted]
        lines += [f"{p.path}: {p.reason}" for p in self.warnings]
        if self.padded:
            lines.append(f"{self.padded} images smaller than {IDC_PATCH}x{IDC_PATCH} (padded)")
        return lines


def default_data_dir(dataset: str) -> Path:
    """Where a dataset lives when no folder is given."""
    return paths.data_dir() / _dataset_spec(dataset)[1]


def _dataset_spec(dataset: str) -> tuple[tuple[str, ...], str]:
    if dataset not in DATASETS:
        raise LayoutError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    return DATASETS[dataset]


def index_dataset(
    dataset: str = "sample",
    data_dir: str | Path | None = None,
    *,
    strict: bool = False,
    magnification: str = "400X",
    use_cache: bool = True,
) -> DatasetIndex:
    """Index `data_dir` (default: the dataset's folder under data/; the sample is generated if missing)."""
    layouts, _ = _dataset_spec(dataset)
    root = Path(data_dir) if data_dir is not None else default_data_dir(dataset)
    if data_dir is None and dataset.startswith("sample"):
        from .sample import ensure_sample

        ensure_sample(root.parent)
    if not root.is_dir():
        raise LayoutError(f"data folder {root} does not exist: {_fetch_hint(dataset)}")
    if magnification not in MAGNIFICATIONS:
        raise LayoutError(f"magnification {magnification!r}: choose one of {', '.join(MAGNIFICATIONS)}")
    layout = _detect_layout(root, layouts, dataset)
    index = DatasetIndex(dataset, layout, root.resolve(), pd.DataFrame(columns=COLUMNS))
    if layout == "idc":
        candidates = _walk_idc(root, index)
    elif layout == "breakhis_kaggle":
        candidates = _walk_breakhis_kaggle(root, index)
    else:
        candidates = _walk_breakhis_v1(root, index, magnification)
    index.key = _listing_key(layout, candidates, magnification)
    cached = _cache_path(index.key)
    if use_cache and cached.exists():
        inspected = json.loads(cached.read_text())
    else:
        inspected = _inspect(candidates)
        if use_cache:
            write_json_atomic(cached, inspected)
    index.table = pd.DataFrame(inspected["table"], columns=COLUMNS).astype({"label": int})
    index.skipped += [Problem(**p) for p in inspected["skipped"]]
    index.converted = [Problem(**p) for p in inspected["converted"]]
    if strict and index.problems():
        lines = index.problems()
        shown = "\n  ".join(lines[:20])
        more = f"\n  ... and {len(lines) - 20} more" if len(lines) > 20 else ""
        raise DataProblemError(
            f"strict mode: {len(lines)} problems in {root}:\n  {shown}{more}\n"
            "Fix or remove these files, or index without strict mode to skip them (reported)."
        )
    return index


def _fetch_hint(dataset: str) -> str:
    if dataset.startswith("sample"):
        return "generate it with `python -m bc_helpers sample --out DIR`"
    return f"download it with `data/fetch.sh {dataset}` or pass --data-dir"


def _detect_layout(root: Path, layouts: tuple[str, ...], dataset: str) -> str:
    for layout in layouts:
        if _looks_like(root, layout):
            return layout
    other = [name for name in LAYOUT_HELP if name not in layouts and _looks_like(root, name)]
    hint = f"It looks like the {other[0]} layout: use --dataset {LAYOUT_DATASET[other[0]]}." if other else ""
    looked = "\n  ".join(LAYOUT_HELP[name] for name in layouts)
    raise LayoutError(
        f"{root} matches no {dataset} layout. Looked for:\n  {looked}\n{hint}".rstrip()
    )


def _looks_like(root: Path, layout: str) -> bool:
    if layout == "idc":
        tops = [root, root / IDC_DUPLICATE_TREE]
        return any(
            child.is_dir() and child.name.isdigit() and any((child / c).is_dir() for c in "01")
            for top in tops if top.is_dir() for child in top.iterdir()
        )
    if layout == "breakhis_kaggle":
        top = _breakhis_kaggle_top(root)
        return top is not None
    return _breakhis_v1_top(root) is not None


def _breakhis_kaggle_top(root: Path) -> Path | None:
    for top in (root / BREAKHIS_KAGGLE_TOP, root):
        if any((top / part).is_dir() for part in ("train", "test")):
            return top
    return None


def _breakhis_v1_top(root: Path) -> Path | None:
    for top in [root, *root.glob("*"), *root.glob("*/*")]:
        candidate = top / "histology_slides" / "breast"
        if candidate.is_dir():
            return candidate
    return None


def _walk_idc(root: Path, index: DatasetIndex) -> list[Candidate]:
    found: dict[tuple[str, int, int, int], Candidate] = {}
    for top in (root, root / IDC_DUPLICATE_TREE):
        if not top.is_dir():
            continue
        for entry in sorted(top.iterdir()):
            if entry.name == IDC_DUPLICATE_TREE and top == root:
                continue
            if not (entry.is_dir() and entry.name.isdigit()):
                index.skipped.append(Problem(str(entry), "not a <patient> folder of the IDC layout"))
                continue
            for candidate in _walk_idc_patient(entry, index):
                key = (candidate.patient, candidate.x, candidate.y, candidate.label)
                if key in found:
                    index.duplicates += 1
                else:
                    found[key] = candidate
    return list(found.values())


def _listed(folder: Path, index: DatasetIndex, empty: str = "empty class folder") -> list[Path]:
    """A folder's entries, sorted; an empty folder is reported."""
    files = sorted(folder.iterdir())
    if not files:
        index.warnings.append(Problem(str(folder), empty))
    return files


def _walk_idc_patient(patient_dir: Path, index: DatasetIndex) -> list[Candidate]:
    out = []
    for label_dir in sorted(patient_dir.iterdir()):
        if not (label_dir.is_dir() and label_dir.name in ("0", "1")):
            index.skipped.append(Problem(str(label_dir), "not a <0|1> class folder of the IDC layout"))
            continue
        for path in _listed(label_dir, index):
            match = IDC_NAME.match(path.name)
            if path.is_dir() or not match:
                index.skipped.append(
                    Problem(str(path), "name does not match <patient>_idx5_x<X>_y<Y>_class<L>.png")
                )
                continue
            label = int(match["label"])
            if label != int(label_dir.name) or match["patient"] != patient_dir.name:
                raise LabelMismatchError(
                    f"{path}: the name says patient {match['patient']}, class {label}, but the "
                    f"file is in folder {patient_dir.name}/{label_dir.name}. Move the file to "
                    "the folder its name gives, or remove it."
                )
            out.append(Candidate(path, match["patient"], label, int(match["x"]), int(match["y"])))
    return out


def _breakhis_candidate(path: Path, folder_label: int, index: DatasetIndex) -> Candidate | None:
    match = BREAKHIS_NAME.match(path.name)
    if path.is_dir() or not match:
        index.skipped.append(Problem(str(path), "name does not match SOB_<B|M>_<type>-<yy>-<slide>-<mag>-<n>.png"))
        return None
    label = 0 if match["cls"].upper() == "B" else 1
    if label != folder_label:
        folder = "benign" if folder_label == 0 else "malignant"
        raise LabelMismatchError(
            f"{path}: the name says {'benign' if label == 0 else 'malignant'} (SOB_{match['cls']}) "
            f"but the file is in a {folder} folder. Move the file to the folder its name gives, "
            "or remove it."
        )
    return Candidate(
        path, match["patient"], label, subtype=match["subtype"].upper(),
        slide=match["slide"], magnification=f"{match['mag']}X",
    )


def _walk_breakhis_kaggle(root: Path, index: DatasetIndex) -> list[Candidate]:
    top = _breakhis_kaggle_top(root)
    assert top is not None
    out = []
    for split in ("train", "test"):
        for name, folder_label in BREAKHIS_CLASSES.items():
            folder = top / split / name
            if not folder.is_dir():
                index.warnings.append(Problem(str(folder), "class folder missing"))
                continue
            for path in _listed(folder, index):
                candidate = _breakhis_candidate(path, folder_label, index)
                if candidate is not None:
                    candidate.folder_split = split
                    out.append(candidate)
    return out


def _walk_breakhis_v1(root: Path, index: DatasetIndex, magnification: str) -> list[Candidate]:
    top = _breakhis_v1_top(root)
    assert top is not None
    out = []
    for name, folder_label in BREAKHIS_CLASSES.items():
        for mag_dir in sorted((top / name / "SOB").glob(f"*/*/{magnification}")):
            for path in _listed(mag_dir, index, "empty magnification folder"):
                candidate = _breakhis_candidate(path, folder_label, index)
                if candidate is not None:
                    out.append(candidate)
    return out


def _listing_key(layout: str, candidates: list[Candidate], magnification: str) -> str:
    digest = hashlib.sha1(f"{layout}|{magnification}".encode())
    for c in candidates:
        stat = c.path.stat()
        digest.update(f"{c.path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _inspect(candidates: list[Candidate]) -> dict:
    """Decode every candidate once: the usable rows, the skips and the conversions."""

    def check(candidate: Candidate) -> tuple[Candidate, ImageInfo | ImageProblem]:
        try:
            return candidate, inspect_image(candidate.path)
        except ImageProblem as exc:
            return candidate, exc

    rows, skipped, converted = [], [], []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for candidate, result in pool.map(check, candidates, chunksize=256):
            if isinstance(result, ImageProblem):
                skipped.append({"path": str(candidate.path), "reason": str(result)})
                continue
            if result.mode != "RGB":
                converted.append({"path": str(candidate.path), "reason": f"{result.mode} image converted to RGB"})
            rows.append({**vars(candidate), "path": str(candidate.path), "width": result.width,
                         "height": result.height, "mode": result.mode})
    table = {col: [row[col] for row in rows] for col in COLUMNS}
    return {"table": table, "skipped": skipped, "converted": converted}


def _cache_path(key: str) -> Path:
    return paths.cache_dir() / f"index-{key}.json"
