from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from bc_helpers.data.datasets import index_dataset
from bc_helpers.data.sample import SampleSpec, neighbour_share, write_sample
from bc_helpers.data.splits import split_table
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


def test_patients_differ_in_class_mix_and_patches_tile_their_slide(tiny_sample: Path) -> None:
    table = index_dataset("idc", tiny_sample / "idc").table
    shares = table.groupby("patient")["label"].mean()
    assert shares.min() < 0.1 and shares.max() > 0.4
    assert neighbour_share(table) >= 0.7


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


@pytest.fixture(scope="module")
def default_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("default") / "sample"
    write_sample(out)
    return out


def _patients(table: pd.DataFrame, parts: pd.Series, part: str, label: int | None = None) -> int:
    chosen = (parts == part) & (table["label"] == label if label is not None else True)
    return int(table.loc[chosen, "patient"].nunique())


@pytest.mark.slow  # generates the default sample: about a minute on 2 cores
def test_default_sample_is_shaped_like_the_cohort_and_decides_on_enough_patients(default_sample: Path) -> None:
    idc = index_dataset("idc", default_sample / "idc").table
    breakhis = index_dataset("breakhis", default_sample / "breakhis").table
    assert 1800 <= len(idc) <= 2600 and 500 <= len(breakhis) <= 700
    assert 0.25 <= idc["label"].mean() <= 0.35
    assert (idc.groupby("patient")["label"].nunique() == 2).mean() >= 0.7
    assert neighbour_share(idc) >= 0.7
    parts = split_table(idc, "patient", seed=0)
    assert _patients(idc, parts, "test") >= 15 and _patients(idc, parts, "val") >= 15
    assert min(_patients(idc, parts, "val", label) for label in (0, 1)) >= 5  # Youden's J applies
    assert _patients(breakhis, split_table(breakhis, "patient", seed=0), "test") >= 10


@pytest.mark.slow
def test_the_share_of_dark_pixels_alone_does_not_solve_the_sample(default_sample: Path) -> None:
    idc = index_dataset("idc", default_sample / "idc").table
    grey = [np.asarray(Image.open(path).convert("L"), dtype=float) / 255 for path in idc["path"]]
    dark = np.array([[(g < 0.5).mean()] for g in grey])
    parts, labels = split_table(idc, "patient", seed=0).to_numpy(), idc["label"].to_numpy()
    model = LogisticRegression().fit(dark[parts == "train"], labels[parts == "train"])
    assert roc_auc_score(labels[parts == "test"], model.predict_proba(dark[parts == "test"])[:, 1]) <= 0.85


@pytest.mark.slow
def test_no_colour_feature_alone_solves_the_sample(default_sample: Path) -> None:
    """sample_v5.py's colour baselines: the mean colour and the colour percentiles stay under 0.85 too."""
    from sklearn.preprocessing import StandardScaler

    from bc_helpers.data.cache import fit_image
    from bc_helpers.data.images import load_rgb

    idc = index_dataset("idc", default_sample / "idc").table
    pixels = np.stack([fit_image(load_rgb(Path(path)), 50, "idc").reshape(-1, 3) / 255 for path in idc["path"]])
    features = {"mean_rgb": pixels.mean(axis=1),
                "rgb_percentiles": np.concatenate([np.percentile(pixels[..., c], [10, 50, 90], axis=1).T
                                                   for c in range(3)], axis=1)}
    parts, labels = split_table(idc, "patient", seed=0).to_numpy(), idc["label"].to_numpy()
    train, test = parts == "train", parts == "test"
    for name, x in features.items():
        scaler = StandardScaler().fit(x[train])
        model = LogisticRegression(max_iter=1000).fit(scaler.transform(x[train]), labels[train])
        assert roc_auc_score(labels[test], model.predict_proba(scaler.transform(x[test]))[:, 1]) <= 0.85, name


def test_an_outdated_sample_is_replaced_and_a_foreign_folder_never(tmp_path: Path) -> None:
    from bc_helpers.data.sample import ensure_sample

    small = SampleSpec(patients=4, patches_per_patient=(4, 6), breakhis_patients=2, breakhis_images=(2, 3),
                       breakhis_shape=(60, 90))
    out = tmp_path / "sample"
    write_sample(out, small)
    with pytest.raises(WorkbookError, match="other settings"):
        ensure_sample(out, SampleSpec(**{**small.__dict__, "seed": 1}))
    ensure_sample(out, SampleSpec(**{**small.__dict__, "seed": 1}), replace_outdated=True)
    assert '"seed": 1' in (out / "sample.json").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample"]
    (out / "notes.txt").write_text("mine")
    with pytest.raises(WorkbookError, match="notes.txt"):
        ensure_sample(out, small, replace_outdated=True)
    assert (out / "notes.txt").read_text() == "mine"


def test_a_sample_of_another_revision_is_outdated(tmp_path: Path) -> None:
    import json

    from bc_helpers.data.sample import MARKER, ensure_sample

    small = SampleSpec(patients=3, patches_per_patient=(4, 6), breakhis_patients=2, breakhis_images=(2, 3),
                       breakhis_shape=(60, 90))
    out = tmp_path / "sample"
    write_sample(out, small)
    summary = json.loads((out / MARKER).read_text())
    assert summary["spec"]["version"] == 5 and summary["spec"]["revision"] == small.revision >= 1
    for old in ({**summary["spec"], "revision": small.revision - 1},  # drawn by the previous rules
                {k: v for k, v in summary["spec"].items() if k != "revision"}):  # written before revisions
        (out / MARKER).write_text(json.dumps({**summary, "spec": old}))
        with pytest.raises(WorkbookError, match="other settings"):
            ensure_sample(out, small)
        ensure_sample(out, small, replace_outdated=True)  # what `make setup`'s `sample --update` does
        assert json.loads((out / MARKER).read_text())["spec"]["revision"] == small.revision
