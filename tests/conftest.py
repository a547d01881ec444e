"""Shared fixtures: tiny datasets drawn on the fly, the real subsets in ../shared/data, an isolated cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bc_helpers.data.layouts import format_idc, idc_path
from bc_helpers.data.sample import SampleSpec, write_sample

# The small real subsets beside the repository (developers and CI only): ../shared/data.
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
idc_name = format_idc  # the tests' short name for an IDC file name


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache folder, so no test sees another's cached index or arrays."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("BC_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def shared_idc() -> Path:
    path = SHARED / "idc_sample"
    if not path.is_dir():
        pytest.skip(f"real IDC subset not found at {path} (only developers and CI have ../shared)")
    return path


@pytest.fixture
def shared_breakhis() -> Path:
    path = SHARED / "breakhis_sample"
    if not path.is_dir():
        pytest.skip(f"real BreaKHis subset not found at {path} (only developers and CI have ../shared)")
    return path


def write_png(path: Path, size: tuple[int, int] = (50, 50), mode: str = "RGB", seed: int = 0) -> Path:
    """A small random image at `path` (width, height)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).convert(mode).save(path)
    return path


def make_idc_tree(root: Path, patients: dict[str, tuple[int, int]]) -> Path:
    """An IDC-layout tree: {patient: (negatives, positives)}."""
    for p, counts in patients.items():
        for label, n in enumerate(counts):
            for k in range(n):
                write_png(idc_path(root, p, 1 + 50 * k, 1 + 50 * label, label), seed=k)
    return root


@pytest.fixture(scope="session")
def tiny_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic sample (12 IDC-like patients, 8 BreaKHis-like), made once per session."""
    out = tmp_path_factory.mktemp("sample") / "s"
    spec = SampleSpec(patients=12, patches_per_patient=(30, 50), breakhis_patients=8, breakhis_images=(3, 5),
                      breakhis_shape=(92, 140))
    write_sample(out, spec)
    return out
