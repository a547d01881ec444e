"""Decode every image once into a memory-mappable uint8 array, reused by later runs and notebooks."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .. import paths
from .datasets import DatasetIndex
from .images import fit_patch, load_rgb, resize
from .layouts import IDC_PATCH


def storage_size(index: DatasetIndex, image_size: int) -> int:
    """IDC patches are kept at their native 50 px; BreaKHis images are stored at the model's size."""
    return IDC_PATCH if index.layout == "idc" else image_size


def fit_image(pixels: np.ndarray, size: int, layout: str) -> np.ndarray:
    """How an image becomes a (size, size, 3) row, the one rule for the cache (training) and for `predict`:
    an IDC patch is padded with white at the bottom and right (its cut edge) when it fits, else resized;
    an image of any other layout is resized whole."""
    return fit_patch(pixels, size) if layout == "idc" else resize(pixels, size)


def cache_path(index: DatasetIndex, size: int) -> Path:
    """One file per (index contents, size): a changed file or a new size gives a new cache."""
    key = hashlib.sha1(f"{index.key}|{size}".encode()).hexdigest()[:16]
    return paths.cache_dir() / f"images-{index.dataset}-{size}px-{key}.npy"


def load_images(index: DatasetIndex, size: int, progress: bool = True) -> np.ndarray:
    """(N, size, size, 3) uint8, row i for index.table row i; decoded on first use, then memory-mapped."""
    path = cache_path(index, size)
    if not path.exists():
        build_cache(index, size, path, progress)
    images = np.load(path, mmap_mode="r")
    if images.shape != (len(index.table), size, size, 3):
        raise RuntimeError(f"{path} has shape {images.shape}: delete it and run again")
    return images


def build_cache(index: DatasetIndex, size: int, path: Path, progress: bool = True) -> None:
    """Decode in threads (PIL releases the GIL while decoding) into a temporary file, then rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(index.table), size, size, 3))

    def decode(i: int) -> None:
        out[i] = fit_image(load_rgb(Path(str(index.table["path"].iat[i]))), size, index.layout)

    try:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            work = pool.map(decode, range(len(index.table)), chunksize=64)
            for _ in tqdm(work, total=len(index.table), desc=f"caching {index.dataset} at {size}px",
                          disable=not progress, mininterval=1.0):
                pass
        out.flush()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
