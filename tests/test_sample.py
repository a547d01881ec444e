from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from bc_helpers.data.datasets import index_dataset
from bc_helpers.data.sample import SampleSpec, write_sample
from bc_helpers.errors import WorkbookError


def _digest(root: Path) -> str:
    h = hashlib.sha1()
    for f in sorted(root.rglob("*.png")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def test_generator_is_deterministic_and_seeded(tmp_path: Path) -> None:
    spec = SampleSpec(patients=3, patches_per_patient=(5, 8), breakhis_patients=2, breakhis_images=(1, 2),
                      breakhis_shape=(46, 70))
    write_sample(tmp_path / "a", spec)
    write_sample(tmp_path / "b", spec)
    write_sample(tmp_path / "c", SampleSpec(**{**spec.__dict__, "seed": 1}))
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_sample_has_both_real_layouts_and_is_marked_synthetic(tiny_sample: Path) -> None:
    idc = index_dataset("idc", tiny_sample / "idc")
    breakhis = index_dataset("breakhis", tiny_sample / "breakhis")
    assert idc.table["patient"].nunique() == 12 and set(idc.table["label"]) == {0, 1}
    assert breakhis.layout == "breakhis_kaggle" and set(breakhis.table["folder_split"]) == {"train", "test"}
    assert (breakhis.table.groupby("patient")["label"].nunique() == 1).all()
    assert "SYNTHETIC" in (tiny_sample / "README.txt").read_text()


def test_patients_differ_in_class_mix(tiny_sample: Path) -> None:
    shares = index_dataset("idc", tiny_sample / "idc").table.groupby("patient")["label"].mean()
    assert shares.min() < 0.2 and shares.max() > 0.7


def test_positives_have_more_nuclei(tiny_sample: Path) -> None:
    from bc_helpers.data.cache import load_images

    index = index_dataset("idc", tiny_sample / "idc")
    images = load_images(index, 50, progress=False)
    dark = (np.asarray(images).mean(axis=-1) < 110).mean(axis=(1, 2))
    labels = index.table["label"].to_numpy()
    assert dark[labels == 1].mean() > 1.5 * dark[labels == 0].mean()


def test_write_sample_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("user data")
    with pytest.raises(WorkbookError, match="not empty"):
        write_sample(tmp_path / "mine", SampleSpec(patients=1))
    assert (tmp_path / "mine" / "keep.txt").read_text() == "user data"


def test_sample_command_writes_the_sample_the_workbook_uses(tmp_path: Path) -> None:
    from bc_helpers.cli import main
    from bc_helpers.data.sample import ensure_sample

    assert main(["sample", "--out", str(tmp_path / "s")]) == 0  # as `make setup` calls it
    assert ensure_sample(tmp_path / "s") == tmp_path / "s"  # the default spec: accepted, not regenerated
