"""The datasets' file and folder grammar, in one place: what a file name says and how to write one.

- IDC (Kaggle `paultimothymooney/breast-histopathology-images`):
  `<root>/<patient>/<0|1>/<patient>_idx5_x<X>_y<Y>_class<L>.png`, with the archive's second copy of the
  same tree under `<root>/IDC_regular_ps50_idx5/`.
- BreaKHis 400X (Kaggle `forderation/breakhis-400x`):
  `<root>/BreaKHis 400X/{train,test}/{benign,malignant}/SOB_<B|M>_<type>-<yy>-<slide>-400-<n>.png`.
- BreaKHis_v1 (the original release):
  `.../histology_slides/breast/{benign,malignant}/SOB/<type>/<slide>/<40X|100X|200X|400X>/*.png`.

`datasets` reads folders with it; `sample` writes the synthetic sample with it; the tests build trees with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

IDC_PATCH = 50
IDC_DUPLICATE_TREE = "IDC_regular_ps50_idx5"
IDC_CLASSES = ("0", "1")
BREAKHIS_KAGGLE_TOP = "BreaKHis 400X"
BREAKHIS_SPLITS = ("train", "test")
BREAKHIS_CLASSES = {"benign": 0, "malignant": 1}
MAGNIFICATIONS = ("40X", "100X", "200X", "400X")

IDC_NAME_HELP = "<patient>_idx5_x<X>_y<Y>_class<L>.png"
BREAKHIS_NAME_HELP = "SOB_<B|M>_<type>-<yy>-<slide>-<mag>-<n>.png"
LAYOUT_HELP = {
    "idc": f"<root>/<patient>/<0|1>/{IDC_NAME_HELP} (optionally also under <root>/{IDC_DUPLICATE_TREE}/)",
    "breakhis_kaggle": f"<root>/{BREAKHIS_KAGGLE_TOP}/{{train,test}}/{{benign,malignant}}/SOB_*.png",
    "breakhis_v1": "<root>/.../histology_slides/breast/{benign,malignant}/SOB/<type>/<slide>/<mag>/*.png",
}

_IDC_NAME = re.compile(r"^(?P<patient>\d+)_idx5_x(?P<x>\d+)_y(?P<y>\d+)_class(?P<label>[01])\.png$")
_BREAKHIS_NAME = re.compile(
    r"^SOB_(?P<cls>[BM])_(?P<subtype>[A-Z]+)-(?P<year>\d+)-(?P<slide>(?P<patient>\d+)[A-Z]*)"
    r"-(?P<mag>\d+)-(?P<n>\d+)\.png$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class IdcName:
    """What an IDC patch's file name says: its patient, its position in the slide and its label."""

    patient: str
    x: int
    y: int
    label: int


@dataclass(frozen=True)
class BreakhisName:
    """What a BreaKHis file name says: label (B=0, M=1), tumour subtype, slide (patient + suffix), magnification."""

    label: int
    subtype: str
    year: str
    slide: str
    patient: str
    magnification: str
    number: int


def parse_idc(name: str) -> IdcName | None:
    """The fields of an IDC file name, or None if the name does not follow the grammar."""
    match = _IDC_NAME.match(name)
    if not match:
        return None
    return IdcName(match["patient"], int(match["x"]), int(match["y"]), int(match["label"]))


def format_idc(patient: str, x: int, y: int, label: int) -> str:
    """An IDC file name: `<patient>_idx5_x<X>_y<Y>_class<L>.png`."""
    return f"{patient}_idx5_x{x}_y{y}_class{label}.png"


def idc_path(root: Path, patient: str, x: int, y: int, label: int) -> Path:
    """Where an IDC patch lives in its tree: `<root>/<patient>/<label>/<name>`."""
    return root / patient / str(label) / format_idc(patient, x, y, label)


def parse_breakhis(name: str) -> BreakhisName | None:
    """The fields of a BreaKHis file name, or None if the name does not follow the grammar."""
    match = _BREAKHIS_NAME.match(name)
    if not match:
        return None
    return BreakhisName(
        label=0 if match["cls"].upper() == "B" else 1, subtype=match["subtype"].upper(), year=match["year"],
        slide=match["slide"], patient=match["patient"], magnification=f"{match['mag']}X", number=int(match["n"]),
    )


def format_breakhis(label: int, subtype: str, slide: str, number: int, magnification: str = "400X",
                    year: str = "14") -> str:
    """A BreaKHis file name: `SOB_<B|M>_<type>-<yy>-<slide>-<mag>-<n>.png` (n written with 3 digits)."""
    return f"SOB_{'M' if label else 'B'}_{subtype}-{year}-{slide}-{magnification.rstrip('X')}-{number:03d}.png"


def breakhis_class_folder(label: int) -> str:
    """The class folder of a label: benign (0) or malignant (1)."""
    return next(name for name, value in BREAKHIS_CLASSES.items() if value == label)


def breakhis_kaggle_path(root: Path, split: str, label: int, name: str) -> Path:
    """Where a file lives in the Kaggle BreaKHis 400X tree: `<root>/BreaKHis 400X/<split>/<class>/<name>`."""
    return root / BREAKHIS_KAGGLE_TOP / split / breakhis_class_folder(label) / name


def breakhis_kaggle_top(root: Path) -> Path | None:
    """The folder holding train/ and test/ (`<root>/BreaKHis 400X` or `<root>` itself), if any."""
    for top in (root / BREAKHIS_KAGGLE_TOP, root):
        if any((top / part).is_dir() for part in BREAKHIS_SPLITS):
            return top
    return None


def breakhis_v1_top(root: Path) -> Path | None:
    """The `histology_slides/breast` folder of a BreaKHis_v1 tree, up to two levels below `root`."""
    for top in [root, *root.glob("*"), *root.glob("*/*")]:
        candidate = top / "histology_slides" / "breast"
        if candidate.is_dir():
            return candidate
    return None


def looks_like(root: Path, layout: str) -> bool:
    """Whether `root`'s folders follow `layout` (file names are checked later, one by one)."""
    if layout == "idc":
        tops = [root, root / IDC_DUPLICATE_TREE]
        return any(
            child.is_dir() and child.name.isdigit() and any((child / c).is_dir() for c in IDC_CLASSES)
            for top in tops if top.is_dir() for child in top.iterdir()
        )
    if layout == "breakhis_kaggle":
        return breakhis_kaggle_top(root) is not None
    return breakhis_v1_top(root) is not None
