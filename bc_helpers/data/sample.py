"""The built-in SYNTHETIC sample: H&E-like slides cut into images written in the real IDC and BreaKHis layouts.

Nothing here is patient data. Slides come first, images are cut from them, as in the real datasets:
- each IDC-like patient has one slide: tissue over glass, pink fibrous stroma with sparse elongated nuclei, fat,
  benign ducts, lymphocyte aggregates, and zero to a few contiguous IDC regions whose extent varies by patient;
  the slide is cut into 50 px patches on the grid, named with their true x/y and labelled by their overlap with a
  coarse annotation of the IDC regions, as Kaggle's patches are;
- IDC differs from benign tissue in its nuclei's size, shape, crowding and variety more than in its colour:
  its nuclei are large, pleomorphic and vesicular (pale inside a dark rim, with a nucleolus and coarse chromatin),
  fewer but larger than the lymphocytes, which most slides hold in aggregates as dark as any tumour; the tissue
  around them has no colour of its own, some tumours have pale nuclei, and each patient's stain, exposure and
  scanner noise move the colour of every patch, so no single colour feature separates the classes (a logistic
  regression on one reaches a test ROC-AUC of about 0.8, docs/measurements/sample-v5.json) while a model that
  sees nuclei can;
- tissue at the border of an IDC region has nuclei between the two looks, and the annotation is coarser than the
  tumour, so labels near borders are uncertain, as pathologists' outlines are;
- each patient has its own stain vectors, nuclei, texture and scanner noise, and its patches tile a part of its
  slide, so an image-level split (the paper's) puts neighbours of a test patch, from the same tissue, in training;
- each BreaKHis-like patient has one slide of one tumour type (its own texture) cut into adjacent fields; a
  malignant slide's tumour is spread in small regions, so every field of it shows some.
SampleSpec.revision counts changes of the drawing rules within version 5 (`make setup` replaces a sample of another
revision): revision 1 removed the colour that IDC tissue had of itself and drew the nuclei described above;
revision 2 draws the BreaKHis-like images from more patients with fewer fields each (110 patients of 4-7 fields,
about as many images as before), so that the default patient split tests on at least 15 of them.
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
import pandas as pd
from PIL import Image
from scipy.ndimage import gaussian_filter

from ..errors import WorkbookError
from .layouts import BREAKHIS_SPLITS, breakhis_kaggle_path, format_breakhis, idc_path

# Optical density of one unit of haematoxylin (nuclei, purple) and eosin (cytoplasm and stroma, pink).
HAEMATOXYLIN = np.array([0.56, 0.72, 0.41])
EOSIN = np.array([0.22, 0.80, 0.56])
BENIGN_TYPES = ("A", "F", "PT", "TA")
MALIGNANT_TYPES = ("DC", "LC", "MC", "PC")
MARKER = "sample.json"
SAMPLE_FILES = {"idc", "breakhis", "README.txt", MARKER}  # everything write_sample puts in its folder


@dataclass(frozen=True)
class SampleSpec:
    """What the generator draws. The patient counts are set so that the default patient split (70/15/15)
    validates and tests on at least 15 IDC-like patients, each class present in several of them, and tests on at
    least 15 BreaKHis-like patients."""

    version: int = 5  # the sample's generation (its layout and design)
    revision: int = 2  # raised whenever the drawing rules change within a version, so an old sample is not reused
    seed: int = 0
    patients: int = 120
    patches_per_patient: tuple[int, int] = (8, 28)  # before glass-only cells are dropped
    patch: int = 50
    breakhis_patients: int = 110
    breakhis_images: tuple[int, int] = (4, 7)
    breakhis_shape: tuple[int, int] = (115, 175)  # a quarter of BreaKHis's 460 x 700
    breakhis_scale: float = 2.5  # nuclei this many times larger than in IDC patches (400X magnification)
    breakhis_test_fraction: float = 0.2


@dataclass(frozen=True)
class Look:
    """How a patient's lab and scanner rendered its slide: what lets a model recognise the patient."""

    stains: np.ndarray  # (2, 3): optical density of one unit of haematoxylin, of eosin
    glass: np.ndarray  # (3,): optical density of the empty slide
    fibre: float  # strength of the stroma's fibrous texture
    blur: float  # focus, in px
    noise: float  # scanner noise, in grey levels


@dataclass(frozen=True)
class Tissue:
    """What a slide holds: region shares and nucleus morphology; counts are per 50 x 50 px of tissue."""

    tumour: float  # share of the tissue that is tumour
    extent: float  # smoothing of the tumour field in px: larger gives fewer, larger regions
    border: float  # width in px of the zone of intermediate nuclei around a tumour
    glass: float = 0.0  # share of the slide without tissue
    fat: float = 0.1
    ducts: float = 0.3
    duct_radius: tuple[float, float] = (5.0, 10.0)
    duct_squash: float = 0.8  # 1: round ducts; small: slit-like (fibroadenoma)
    lymph: float = 0.0  # share of the tissue in lymphocyte aggregates
    stroma_cells: float = 10.0
    tumour_cells: float = 50.0
    tumour_radius: float = 3.0
    pleomorphism: float = 0.25  # spread of the tumour nuclei's sizes (log scale)
    tumour_dark: float = 1.2  # haematoxylin of a tumour nucleus; a benign one has 1.0
    mucin: float = 0.0  # share of the tumour that is pale mucin (mucinous carcinoma)
    vesicular: float = 0.4  # how much paler a tumour nucleus is inside its rim


def draw_look(rng: np.random.Generator) -> Look:
    """A patient's stains (vectors and strengths), stroma texture, focus and noise."""
    stains = np.stack([HAEMATOXYLIN * (1 + rng.normal(0, 0.18, 3)), EOSIN * (1 + rng.normal(0, 0.18, 3))])
    stains /= np.linalg.norm(stains, axis=1, keepdims=True)
    stains *= np.exp(rng.normal(0, [[0.4], [0.35]]) + rng.normal(0, 0.2))  # each stain's strength, and exposure
    return Look(stains=stains, glass=rng.uniform(0.02, 0.08) * (1 + rng.normal(0, 0.2, 3)),
                fibre=float(rng.uniform(0.2, 0.6)), blur=float(rng.uniform(0.0, 0.8)),
                noise=float(rng.uniform(2, 12)))


def draw_idc_tissue(rng: np.random.Generator) -> Tissue:
    """An IDC-like patient's slide: a few patients without IDC, most with some, a few with much."""
    return Tissue(
        tumour=0.0 if rng.random() < 0.08 else float(rng.beta(2.4, 4.0)),
        extent=float(rng.uniform(10, 30)), border=float(rng.uniform(2, 6)), glass=float(rng.uniform(0, 0.2)),
        fat=float(rng.uniform(0, 0.3)), ducts=float(rng.uniform(0, 1.0)),
        lymph=0.0 if rng.random() < 0.1 else float(rng.uniform(0.05, 0.3)),
        stroma_cells=float(rng.uniform(6, 16)), tumour_cells=float(rng.uniform(12, 30)),
        tumour_radius=float(rng.uniform(4.0, 5.0)), pleomorphism=float(rng.uniform(0.15, 0.35)),
        tumour_dark=float(rng.uniform(0.7, 1.4)),
    )


# Each BreaKHis tumour type's texture, as changes to a benign or a malignant slide.
SUBTYPES: dict[str, dict] = {
    "A": {"ducts": 2.5, "duct_radius": (4.0, 7.0)},  # adenosis: crowded small glands
    "F": {"ducts": 1.0, "duct_radius": (7.0, 14.0), "duct_squash": 0.35, "stroma_cells": 16.0},  # fibroadenoma
    "PT": {"ducts": 0.5, "duct_squash": 0.4, "stroma_cells": 30.0},  # phyllodes: cellular stroma
    "TA": {"ducts": 3.5, "duct_radius": (3.5, 6.0)},  # tubular adenoma: packed tubules
    "DC": {"tumour": 0.9},  # ductal: sheets of large, varied nuclei
    "LC": {"tumour": 0.85, "tumour_cells": 35.0, "tumour_radius": 2.6, "pleomorphism": 0.1},  # lobular: small, uniform
    "MC": {"tumour": 0.9, "mucin": 0.5, "tumour_cells": 30.0},  # mucinous: cells floating in mucin
    "PC": {"tumour": 0.75, "ducts": 0.6, "extent": 3.0},  # papillary: fronds of tumour along stroma
}


def draw_breakhis_tissue(rng: np.random.Generator, subtype: str) -> Tissue:
    """A BreaKHis-like slide of one tumour type, with the patient's own variation."""
    base = Tissue(tumour=0.0, extent=float(rng.uniform(4, 8)), border=float(rng.uniform(2, 5)),
                  fat=float(rng.uniform(0, 0.15)), ducts=float(rng.uniform(0.1, 0.4)),
                  lymph=0.0 if rng.random() < 0.5 else float(rng.uniform(0.02, 0.08)),
                  stroma_cells=float(rng.uniform(6, 14)), tumour_cells=float(rng.uniform(35, 60)),
                  tumour_radius=float(rng.uniform(2.8, 3.6)), pleomorphism=float(rng.uniform(0.2, 0.35)),
                  tumour_dark=float(rng.uniform(0.9, 1.4)), vesicular=0.0)  # solid: a rim blurs away at 50 px
    return Tissue(**{**asdict(base), **SUBTYPES[subtype]})


def _field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Smooth random field with unit spread: the shapes of regions and textures."""
    f = gaussian_filter(rng.normal(size=shape), sigma)
    return (f - f.mean()) / (f.std() + 1e-9)


def _top(field: np.ndarray, share: float, within: np.ndarray) -> np.ndarray:
    """The `share` of the `within` pixels where the field is highest."""
    if share <= 0 or not within.any():
        return np.zeros_like(within)
    return within & (field > np.quantile(field[within], 1 - min(share, 1.0)))


def _scatter(rng: np.random.Generator, density: np.ndarray) -> np.ndarray:
    """(n, 2) positions of a Poisson process with the given expected count per pixel."""
    total = float(density.sum())
    n = int(rng.poisson(total)) if total > 0 else 0
    if n == 0:
        return np.zeros((0, 2))
    cells = rng.choice(density.size, size=n, p=density.ravel() / total)
    return np.stack(np.unravel_index(cells, density.shape), axis=1) + rng.uniform(0, 1, (n, 2))


def _stamp(haem: np.ndarray, eosin: np.ndarray, rng: np.random.Generator, centre: np.ndarray, radius: float,
           squash: float, jitter: float, value: float, hollow: float = 0.0) -> None:
    """Paint one nucleus (or a lumen, with value 0) into the stain maps, in its bounding box only; a `hollow`
    nucleus (vesicular, as many tumour nuclei are) is paler inside its dark rim by that share."""
    h, w = haem.shape
    cy, cx = centre
    r = int(np.ceil(radius * 1.5)) + 1
    y0, y1, x0, x1 = max(int(cy) - r, 0), min(int(cy) + r + 1, h), max(int(cx) - r, 0), min(int(cx) + r + 1, w)
    if y0 >= y1 or x0 >= x1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    angle = rng.uniform(0, np.pi)
    dy, dx = yy - cy, xx - cx
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / radius
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / (radius * squash)
    d = np.sqrt(u * u + v * v)
    mask = np.clip((1.0 - d - jitter * rng.normal(size=u.shape)) * 3, 0, 1)
    paint = value * (1 - hollow * np.clip(1.4 - 2 * d, 0, 1)) if hollow > 0 else value
    haem[y0:y1, x0:x1] = np.maximum(haem[y0:y1, x0:x1] * (1 - mask), paint * mask) if value == 0 else \
        np.maximum(haem[y0:y1, x0:x1], paint * mask)
    eosin[y0:y1, x0:x1] *= 1 - (0.9 if value == 0 else 0.5) * mask


def render_slide(rng: np.random.Generator, look: Look, tissue: Tissue, shape: tuple[int, int],
                 scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A slide region as (RGB uint8, tumour mask, tissue mask); `scale` enlarges every structure (magnification)."""
    h, w = shape
    unit = 2500.0 * scale * scale  # the area of one 50 x 50 px patch at this scale
    tissue_mask = _top(_field(rng, shape, 30 * scale), 1 - tissue.glass, np.ones(shape, bool))
    tumour = _top(_field(rng, shape, tissue.extent * scale), tissue.tumour, tissue_mask)
    malignancy = np.clip(gaussian_filter(tumour.astype(float), tissue.border * scale) * 2 * ~tumour + tumour, 0, 1)
    fat = _top(_field(rng, shape, 12 * scale), tissue.fat, tissue_mask)  # IDC infiltrates fat too
    lymph = _top(_field(rng, shape, 4 * scale), tissue.lymph, tissue_mask & ~fat)
    mucin = _top(_field(rng, shape, 5 * scale), tissue.mucin, tumour)

    fibres = gaussian_filter(rng.normal(size=shape), (0.8 * scale, 3.0 * scale)[:: rng.choice([1, -1])])
    eosin = tissue_mask * 0.35 * (1 + look.fibre * fibres / (fibres.std() + 1e-9))  # no colour of its own for IDC
    haem = tissue_mask * 0.04
    membranes = np.abs(_field(rng, shape, 2.5 * scale)) < 0.15
    eosin = np.where(fat, 0.03 + 0.3 * membranes, eosin)
    haem = np.where(fat, 0.0, np.where(mucin, 0.12, haem))
    eosin = np.where(mucin, 0.05, eosin)

    free = tissue_mask & ~fat & (malignancy < 0.05)
    for centre in _scatter(rng, free * tissue.ducts / unit):
        _duct(haem, eosin, rng, centre, tissue, scale)
    nests = np.where(_field(rng, shape, 3 * scale) > 0, 1.6, 0.4)  # tumour cells in nests within stroma
    density = (tissue_mask & ~fat & ~mucin) * (tissue.stroma_cells * (1 - malignancy) + tissue.tumour_cells *
                                               malignancy * nests) / unit
    for centre in _scatter(rng, density):
        m = malignancy[int(centre[0]), int(centre[1])]
        size = np.exp(rng.normal(0, 0.1 + tissue.pleomorphism * m))
        radius = (1.9 * (1 - m) + tissue.tumour_radius * m) * scale * size
        value = (1.0 * (1 - m) + tissue.tumour_dark * m) * (1 + 0.1 * rng.normal())
        _stamp(haem, eosin, rng, centre, radius, squash=0.4 + 0.45 * m + 0.1 * rng.random(), jitter=0.04 + 0.15 * m,
               value=value, hollow=tissue.vesicular * m)
        if rng.random() < m:  # a tumour nucleus shows a nucleolus: a dark dot off its centre
            _stamp(haem, eosin, rng, centre + rng.normal(0, 0.25 * radius, 2), 0.3 * radius, squash=0.9, jitter=0.0,
                   value=1.8 * value)
    for centre in _scatter(rng, lymph * 70.0 / unit):
        _stamp(haem, eosin, rng, centre, 1.5 * scale, squash=0.9, jitter=0.03, value=1.5)

    coarse = 0.2 + 0.2 * malignancy  # tumour chromatin is coarse and clumped
    chromatin = 1 + coarse * gaussian_filter(rng.normal(size=shape), 0.6 * scale) * (haem > 0.5)
    stains = np.stack([haem * chromatin, eosin], axis=-1)
    if look.blur > 0:
        stains = gaussian_filter(stains, (look.blur * scale, look.blur * scale, 0))
    density_od = stains @ look.stains + look.glass
    rgb = 255 * np.exp(-density_od) + rng.normal(0, look.noise, (h, w, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8), tumour, tissue_mask


def _duct(haem: np.ndarray, eosin: np.ndarray, rng: np.random.Generator, centre: np.ndarray, tissue: Tissue,
          scale: float) -> None:
    """A benign duct: a lumen lined by a ring of small, regular epithelial nuclei."""
    radius = rng.uniform(*tissue.duct_radius) * scale
    squash = tissue.duct_squash * rng.uniform(0.8, 1.2)
    angle = rng.uniform(0, np.pi)
    _stamp(haem, eosin, rng, centre, 0.75 * radius, squash, jitter=0.05, value=0.0)
    n = max(int(2 * np.pi * radius / (4.5 * scale)), 4)
    for t in np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, 1):
        offset = np.array([np.sin(t) * squash, np.cos(t)]) * radius * 0.9
        rotated = np.array([offset[0] * np.cos(angle) + offset[1] * np.sin(angle),
                            -offset[0] * np.sin(angle) + offset[1] * np.cos(angle)])
        _stamp(haem, eosin, rng, centre + rotated, 2.1 * scale * rng.uniform(0.9, 1.1), squash=0.75, jitter=0.05,
               value=1.0 + 0.1 * rng.normal())


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
    """Render a part of the patient's slide, cut it on the 50 px grid, keep the cells that hold tissue."""
    rng = np.random.default_rng([spec.seed, 1, i])
    pid, p = str(90001 + i), spec.patch
    look, tissue = draw_look(rng), draw_idc_tissue(rng)
    n = int(rng.integers(*spec.patches_per_patient, endpoint=True))
    cols = int(rng.integers(3, 7))
    rows = -(-n // cols)
    pixels, tumour, tissue_mask = render_slide(rng, look, tissue, (rows * p, cols * p))
    annotation = gaussian_filter(tumour.astype(float), 4.0) > rng.uniform(0.4, 0.6)
    origin = rng.integers(0, 40, 2)
    cut = int(rng.integers(12, p)) if rng.random() < 0.05 else p  # the slide's edge cuts the last row
    written = 0
    for r in range(rows):
        for c in range(cols):
            cell = np.s_[r * p:(r + 1) * p, c * p:(c + 1) * p]
            if tissue_mask[cell].mean() < 0.3:
                continue
            label = int(annotation[cell].mean() >= 0.5)
            path = idc_path(out, pid, 1 + p * int(origin[1] + c), 1 + p * int(origin[0] + r), label)
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels[cell][: cut if r == rows - 1 else p]).save(path)
            written += 1
    return written


def _write_breakhis_patient(out: Path, spec: SampleSpec, i: int) -> int:
    """Render one slide of the patient's tumour type and cut it into adjacent fields."""
    rng = np.random.default_rng([spec.seed, 2, i])
    label = i % 2
    subtype = str(rng.choice(MALIGNANT_TYPES if label else BENIGN_TYPES))
    look, tissue = draw_look(rng), draw_breakhis_tissue(rng, subtype)
    slide = f"{30001 + i}{rng.choice(['', 'CD', 'AB'])}"
    n = int(rng.integers(*spec.breakhis_images, endpoint=True))
    (fh, fw), cols = spec.breakhis_shape, -(-n // 2)
    pixels, _, _ = render_slide(rng, look, tissue, (2 * fh, cols * fw), scale=spec.breakhis_scale)
    for k in range(n):
        field = pixels[(k // cols) * fh:(k // cols + 1) * fh, (k % cols) * fw:(k % cols + 1) * fw]
        split = BREAKHIS_SPLITS[1] if rng.random() < spec.breakhis_test_fraction else BREAKHIS_SPLITS[0]
        path = breakhis_kaggle_path(out, split, label, format_breakhis(label, subtype, slide, k + 1))
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(field).save(path)
    return n


def neighbour_share(table: pd.DataFrame, step: int = 50) -> float:
    """Median over patients of the share of a patient's patches with another of its patches `step` px away
    (left, right, above or below): near 1 when patches tile a slide, near 0 when they are scattered."""
    shares = []
    for _, rows in table.groupby("patient"):
        cells = set(zip(rows["x"].astype(int), rows["y"].astype(int), strict=True))
        near = [any((x + dx, y + dy) in cells for dx, dy in ((step, 0), (-step, 0), (0, step), (0, -step)))
                for x, y in cells]
        shares.append(float(np.mean(near)))
    return float(np.median(shares))


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


def ensure_sample(out: str | Path, spec: SampleSpec | None = None, replace_outdated: bool = False) -> Path:
    """Generate the sample at `out` unless a complete one is already there. With `replace_outdated`, a sample
    that an older generator wrote there (a folder holding only what `write_sample` writes) is replaced."""
    out, spec = Path(out), spec or SampleSpec()
    marker = out / MARKER
    if marker.exists():
        if json.loads(marker.read_text())["spec"] == json.loads(json.dumps(asdict(spec))):
            return out
        if not replace_outdated:
            raise WorkbookError(f"{out} holds a sample made with other settings: remove it to regenerate the "
                                "default one (`make setup` replaces an outdated built-in sample itself).")
        _replace(out, spec)
        return out
    write_sample(out, spec)
    return out


def _replace(out: Path, spec: SampleSpec) -> None:
    """Write the new sample beside `out`, then swap it in; refuse when `out` holds anything a sample does not."""
    foreign = sorted(p.name for p in out.iterdir() if p.name not in SAMPLE_FILES)
    if foreign:
        raise WorkbookError(f"{out} holds files the sample never writes ({', '.join(foreign)}): move them away, "
                            "then run again.")
    fresh = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-new-")) / out.name
    write_sample(fresh, spec)
    old = out.parent / f".{out.name}-outdated"
    shutil.rmtree(old, ignore_errors=True)
    out.rename(old)
    fresh.rename(out)
    shutil.rmtree(old)
    shutil.rmtree(fresh.parent)
