"""The built-in SYNTHETIC sample: H&E-like images written in the real IDC and BreaKHis layouts.

Nothing here is patient data. Each image is drawn from a few rules:
- pink stroma with a smooth texture, white fat vacuoles, purple nuclei;
- positives (IDC / malignant) have denser, larger, darker, more irregular nuclei, but the two
  classes overlap, and a few percent of patches are ambiguous with a coin-flip label, so no
  model can reach 100%;
- every patient has its own stain shift, vacuole rate and class mix, so a model can recognise
  patients: an image-level split (the paper's) lets it score on patients it has seen.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from ..errors import WorkbookError
from .layouts import BREAKHIS_SPLITS, breakhis_kaggle_path, format_breakhis, idc_path

STROMA = np.array([232.0, 168.0, 205.0])
NUCLEUS = np.array([92.0, 52.0, 138.0])
FAT = np.array([246.0, 242.0, 246.0])
BENIGN_TYPES = ("A", "F", "PT", "TA")
MALIGNANT_TYPES = ("DC", "LC", "MC", "PC")
MARKER = "sample.json"


@dataclass(frozen=True)
class SampleSpec:
    """What the generator draws; the defaults take a few seconds."""

    version: int = 4  # raised whenever the drawing rules change, so an old sample is not reused
    seed: int = 0
    patients: int = 40
    patches_per_patient: tuple[int, int] = (30, 70)
    patch: int = 50
    hard_fraction: float = 0.04
    edge_fraction: float = 0.01
    breakhis_patients: int = 30
    breakhis_images: tuple[int, int] = (14, 24)
    breakhis_shape: tuple[int, int] = (115, 175)  # a quarter of BreaKHis's 460 x 700
    breakhis_scale: float = 2.5  # nuclei this many times larger than in IDC patches (400X magnification)
    breakhis_test_fraction: float = 0.2


@dataclass(frozen=True)
class Patient:
    """A synthetic patient's look: stain colours, vacuole rate and share of positive patches."""

    stroma: np.ndarray
    nucleus: np.ndarray
    vacuoles: float
    positive_share: float


def draw_patient(rng: np.random.Generator) -> Patient:
    kind = rng.choice(3, p=[0.45, 0.45, 0.1])
    share = (0.02, 0.98, 0.5)[kind]
    return Patient(
        stroma=np.clip(STROMA * (1 + rng.normal(0, 0.12, 3)) + rng.normal(0, 8), 120, 250),
        nucleus=np.clip(NUCLEUS * (1 + rng.normal(0, 0.10, 3)), 30, 200),
        vacuoles=float(rng.uniform(0.2, 2.5)),
        positive_share=share,
    )


def render_tissue(
    rng: np.random.Generator, patient: Patient, shape: tuple[int, int], malignancy: float,
    scale: float = 1.0,
) -> np.ndarray:
    """One H&E-like image; malignancy in [0, 1] sets the nuclei's density, size and irregularity."""
    h, w = shape
    m = float(np.clip(malignancy, 0, 1))
    texture = gaussian_filter(rng.normal(size=(h, w)), sigma=2.5 * scale)
    texture /= texture.std() + 1e-6
    img = patient.stroma[None, None, :] * (1 - 0.06 * texture[..., None])
    area = h * w / (50 * 50 * scale * scale)
    for _ in range(rng.poisson(patient.vacuoles * area)):
        _stamp(img, rng, FAT, radius=rng.uniform(3, 9) * scale, squash=0.8, jitter=0.05, alpha=0.95)
    darkness = 1.0 - 0.25 * m
    for _ in range(rng.poisson((4 + 26 * m) * area)):
        radius = (1.7 + 1.8 * m) * scale * (1 + 0.2 * rng.normal())
        _stamp(
            img, rng, patient.nucleus * darkness * (1 + 0.08 * rng.normal()),
            radius=max(radius, 0.8 * scale), squash=0.9 - 0.4 * m, jitter=0.05 + 0.3 * m, alpha=0.9,
        )
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _stamp(
    img: np.ndarray, rng: np.random.Generator, colour: np.ndarray, radius: float, squash: float,
    jitter: float, alpha: float,
) -> None:
    """Paint one irregular ellipse (a nucleus or a vacuole) in place, in its bounding box only."""
    h, w = img.shape[:2]
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    r = int(np.ceil(radius * 1.5)) + 1
    y0, y1, x0, x1 = max(int(cy) - r, 0), min(int(cy) + r + 1, h), max(int(cx) - r, 0), min(int(cx) + r + 1, w)
    if y0 >= y1 or x0 >= x1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    angle = rng.uniform(0, np.pi)
    dy, dx = yy - cy, xx - cx
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / radius
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / (radius * rng.uniform(squash, 1.0))
    dist = np.sqrt(u * u + v * v) + jitter * rng.normal(size=u.shape)
    mask = np.clip((1.0 - dist) * 3, 0, 1)[..., None] * alpha
    img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - mask) + colour * mask


def _malignancy(rng: np.random.Generator, label: int, hard: bool) -> float:
    if hard:
        return float(rng.uniform(0.4, 0.6))
    return float(rng.beta(6, 2) if label else rng.beta(2, 6))


def write_idc_like(out: Path, spec: SampleSpec) -> int:
    """Patches in the IDC layout: <out>/<patient>/<label>/<patient>_idx5_x<X>_y<Y>_class<L>.png."""
    return _per_patient(_write_idc_patient, out, spec, spec.patients)


def write_breakhis_like(out: Path, spec: SampleSpec) -> int:
    """Images in the Kaggle BreaKHis 400X layout, one label and subtype per patient, split by image."""
    return _per_patient(_write_breakhis_patient, out, spec, spec.breakhis_patients)


def _per_patient(write: Callable[[Path, SampleSpec, int], int], out: Path, spec: SampleSpec, n: int) -> int:
    """Each patient has its own seed, so the result does not depend on the number of processes."""
    with ProcessPoolExecutor(max_workers=min(os.cpu_count() or 1, 8)) as pool:
        return sum(pool.map(write, [out] * n, [spec] * n, range(n)))


def _write_idc_patient(out: Path, spec: SampleSpec, i: int) -> int:
    rng = np.random.default_rng([spec.seed, 1, i])
    patient, pid = draw_patient(rng), str(90001 + i)
    n = int(rng.integers(*spec.patches_per_patient, endpoint=True))
    for cell in rng.choice(40 * 40, size=n, replace=False):
        hard = rng.random() < spec.hard_fraction
        label = int(rng.random() < (0.5 if hard else patient.positive_share))
        pixels = render_tissue(rng, patient, (spec.patch, spec.patch), _malignancy(rng, label, hard))
        if rng.random() < spec.edge_fraction:
            pixels = pixels[: int(rng.integers(12, spec.patch))]
        x, y = 1 + spec.patch * (cell % 40), 1 + spec.patch * (cell // 40)
        path = idc_path(out, pid, x, y, label)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)
    return n


def _write_breakhis_patient(out: Path, spec: SampleSpec, i: int) -> int:
    rng = np.random.default_rng([spec.seed, 2, i])
    patient = draw_patient(rng)
    label = i % 2
    subtype = str(rng.choice(MALIGNANT_TYPES if label else BENIGN_TYPES))
    slide = f"{30001 + i}{rng.choice(['', 'CD', 'AB'])}"
    n = int(rng.integers(*spec.breakhis_images, endpoint=True))
    for k in range(1, n + 1):
        hard = rng.random() < spec.hard_fraction
        pixels = render_tissue(rng, patient, spec.breakhis_shape, _malignancy(rng, label, hard),
                               scale=spec.breakhis_scale)
        split = BREAKHIS_SPLITS[1] if rng.random() < spec.breakhis_test_fraction else BREAKHIS_SPLITS[0]
        path = breakhis_kaggle_path(out, split, label, format_breakhis(label, subtype, slide, k))
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)
    return n


def write_sample(out: str | Path, spec: SampleSpec | None = None) -> dict:
    """Write the SYNTHETIC sample into a new folder: out/idc and out/breakhis. Never overwrites."""
    spec, out = spec or SampleSpec(), Path(out)
    if out.exists() and any(out.iterdir()):
        raise WorkbookError(f"{out} exists and is not empty: choose a new folder, or remove it first.")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        summary = {
            "synthetic": True,
            "spec": asdict(spec),
            "idc_images": write_idc_like(work / "idc", spec),
            "breakhis_images": write_breakhis_like(work / "breakhis", spec),
        }
        (work / "README.txt").write_text(
            "SYNTHETIC images generated by bc_helpers.data.sample: not patient data, not for any "
            "medical use.\nidc/ has the Kaggle IDC layout, breakhis/ the Kaggle BreaKHis 400X "
            "layout.\n"
        )
        (work / MARKER).write_text(json.dumps(summary, indent=2) + "\n")
        if out.exists():
            out.rmdir()
        work.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summary


def ensure_sample(out: str | Path, spec: SampleSpec | None = None) -> Path:
    """Generate the sample at `out` unless a complete one is already there."""
    out, spec = Path(out), spec or SampleSpec()
    marker = out / MARKER
    if marker.exists():
        if json.loads(marker.read_text())["spec"] == json.loads(json.dumps(asdict(spec))):
            return out
        raise WorkbookError(
            f"{out} holds a sample made with other settings: remove it to regenerate the default one."
        )
    write_sample(out, spec)
    return out
