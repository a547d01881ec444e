from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from conftest import idc_name, make_idc_tree, write_png
from PIL import Image

from bc_helpers.data.cache import cache_path, load_images
from bc_helpers.data.datasets import index_dataset


def test_cache_holds_decoded_pixels_and_pads_small_patches(tmp_path: Path) -> None:
    make_idc_tree(tmp_path / "d", {"101": (2, 1)})
    small = write_png(tmp_path / "d" / "101" / "1" / idc_name("101", 9, 9, 1), size=(50, 42), seed=5)
    index = index_dataset("idc", tmp_path / "d")
    images = load_images(index, 50, progress=False)
    assert images.shape == (4, 50, 50, 3) and images.dtype == np.uint8
    assert isinstance(images, np.memmap)
    i = index.table.index[index.table["path"] == str(small)][0]
    original = np.asarray(Image.open(small).convert("RGB"))
    assert np.array_equal(images[i, :42], original)
    assert (images[i, 42:] == 255).all()


def test_cache_is_reused_then_rebuilt_when_data_changes(tmp_path: Path) -> None:
    make_idc_tree(tmp_path / "d", {"101": (2, 2)})
    index = index_dataset("idc", tmp_path / "d")
    load_images(index, 50, progress=False)
    path = cache_path(index, 50)
    stamp = path.stat().st_mtime_ns
    os.utime(path, ns=(stamp - 10**9, stamp - 10**9))
    load_images(index_dataset("idc", tmp_path / "d"), 50, progress=False)
    assert path.stat().st_mtime_ns == stamp - 10**9, "an unchanged dataset must reuse its cache"
    write_png(tmp_path / "d" / "101" / "0" / idc_name("101", 1, 1, 0), seed=99)
    changed = index_dataset("idc", tmp_path / "d")
    assert cache_path(changed, 50) != path
    assert load_images(changed, 50, progress=False).shape[0] == 4


def test_breakhis_images_are_stored_at_the_requested_size(tiny_sample: Path) -> None:
    index = index_dataset("breakhis", tiny_sample / "breakhis")
    images = load_images(index, 32, progress=False)
    assert images.shape == (len(index.table), 32, 32, 3)
    assert cache_path(index, 32) != cache_path(index, 64)
