from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import idc_name, make_idc_tree, write_png

from bc_helpers.data.datasets import IDC_DUPLICATE_TREE, index_dataset
from bc_helpers.errors import DataProblemError, LabelMismatchError, LayoutError


def test_idc_layout_rows_and_columns(tmp_path: Path) -> None:
    make_idc_tree(tmp_path, {"101": (3, 2), "102": (1, 4)})
    index = index_dataset("idc", tmp_path)
    t = index.table
    assert len(t) == 10 and t["patient"].nunique() == 2
    assert sorted(t["label"].value_counts().to_dict().items()) == [(0, 4), (1, 6)]
    row = t[t["path"].str.endswith(idc_name("101", 51, 1, 0))].iloc[0]
    assert (row["patient"], row["x"], row["y"], row["width"], row["height"]) == ("101", 51, 1, 50, 50)


def test_idc_duplicate_tree_is_indexed_once(tmp_path: Path) -> None:
    make_idc_tree(tmp_path, {"101": (2, 2), "102": (1, 1)})
    shutil.copytree(tmp_path / "101", tmp_path / IDC_DUPLICATE_TREE / "101")
    shutil.copytree(tmp_path / "102", tmp_path / IDC_DUPLICATE_TREE / "102")
    index = index_dataset("idc", tmp_path)
    assert len(index.table) == 6
    assert index.duplicates == 6
    assert not index.table["path"].str.contains(IDC_DUPLICATE_TREE).any()


def test_idc_only_duplicate_tree_present(tmp_path: Path) -> None:
    make_idc_tree(tmp_path / IDC_DUPLICATE_TREE, {"101": (2, 1)})
    assert len(index_dataset("idc", tmp_path).table) == 3


def test_every_kind_of_problem_is_reported(tmp_path: Path) -> None:
    make_idc_tree(tmp_path, {"101": (2, 2)})
    folder = tmp_path / "101" / "0"
    (folder / idc_name("101", 900, 900, 0)).write_bytes(b"")
    good = (folder / idc_name("101", 1, 1, 0)).read_bytes()
    (folder / idc_name("101", 950, 950, 0)).write_bytes(good[: len(good) // 2])
    (folder / idc_name("101", 990, 990, 0)).write_bytes(b"this is not a png")
    (folder / "notes.txt").write_text("hello")
    write_png(folder / idc_name("101", 5, 5, 0), mode="RGBA")
    write_png(folder / idc_name("101", 6, 6, 0), mode="L")
    write_png(folder / idc_name("101", 7, 7, 0), mode="P")
    write_png(folder / idc_name("101", 8, 8, 0), size=(50, 42))
    (tmp_path / "102" / "1").mkdir(parents=True)
    index = index_dataset("idc", tmp_path)
    reasons = {Path(p.path).name: p.reason for p in index.skipped}
    assert reasons[idc_name("101", 900, 900, 0)] == "empty file (0 bytes)"
    assert reasons[idc_name("101", 950, 950, 0)].startswith("truncated or corrupt")
    assert reasons[idc_name("101", 990, 990, 0)] == "not a decodable image"
    assert "does not match" in reasons["notes.txt"]
    assert {Path(p.path).name for p in index.converted} == {idc_name("101", k, k, 0) for k in (5, 6, 7)}
    assert index.padded == 1
    assert [Path(p.path).parts[-2:] for p in index.warnings] == [("102", "1")]
    assert len(index.table) == 4 + 4
    summary = index.summary()
    assert len(summary["skipped"]) == 4 and summary["padded"] == 1 and "padded with white" in summary["padding"]
    with pytest.raises(DataProblemError, match="strict mode: 9 problems"):
        index_dataset("idc", tmp_path, strict=True)


def test_label_mismatch_names_the_file(tmp_path: Path) -> None:
    make_idc_tree(tmp_path, {"101": (1, 1)})
    wrong = write_png(tmp_path / "101" / "0" / idc_name("101", 77, 77, 1))
    with pytest.raises(LabelMismatchError, match=str(wrong)):
        index_dataset("idc", tmp_path)


def test_unknown_layout_names_what_was_looked_for(tmp_path: Path) -> None:
    write_png(tmp_path / "images" / "a.png")
    with pytest.raises(LayoutError, match=r"<patient>/<0\|1>"):
        index_dataset("idc", tmp_path)
    with pytest.raises(LayoutError, match="BreaKHis 400X"):
        index_dataset("breakhis", tmp_path)
    with pytest.raises(LayoutError, match="does not exist"):
        index_dataset("idc", tmp_path / "missing")


def test_breakhis_kaggle_layout(tmp_path: Path) -> None:
    top = tmp_path / "BreaKHis 400X"
    write_png(top / "train" / "benign" / "SOB_B_TA-14-16184CD-400-024.png", (70, 46))
    write_png(top / "test" / "malignant" / "SOB_M_DC-14-16184-400-001.png", (70, 46))
    write_png(top / "train" / "malignant" / "SOB_M_PC-14-9146-400-014.png", (70, 46))
    index = index_dataset("breakhis", tmp_path)
    t = index.table.sort_values("path").reset_index(drop=True)
    assert t["patient"].tolist() == ["16184", "16184", "9146"]
    assert t["slide"].tolist() == ["16184", "16184CD", "9146"]
    assert t["folder_split"].tolist() == ["test", "train", "train"]
    assert t["subtype"].tolist() == ["DC", "TA", "PC"]
    assert [(Path(p.path).parts[-2:], p.reason) for p in index.warnings] == [
        (("test", "benign"), "class folder missing")
    ]


def test_breakhis_label_mismatch(tmp_path: Path) -> None:
    write_png(tmp_path / "BreaKHis 400X" / "train" / "benign" / "SOB_M_DC-14-1-400-001.png")
    with pytest.raises(LabelMismatchError, match="SOB_M_DC-14-1-400-001.png"):
        index_dataset("breakhis", tmp_path)


def test_breakhis_v1_tree_selects_magnification(tmp_path: Path) -> None:
    base = tmp_path / "BreaKHis_v1" / "histology_slides" / "breast"
    for mag in ("40X", "400X"):
        benign = base / "benign" / "SOB" / "adenosis" / "SOB_B_A_14-22549AB" / mag
        malignant = base / "malignant" / "SOB" / "ductal_carcinoma" / "SOB_M_DC_14-2523" / mag
        write_png(benign / f"SOB_B_A-14-22549AB-{mag[:-1]}-001.png")
        write_png(malignant / f"SOB_M_DC-14-2523-{mag[:-1]}-001.png")
    index = index_dataset("breakhis", tmp_path)
    assert index.layout == "breakhis_v1" and len(index.table) == 2
    assert set(index.table["magnification"]) == {"400X"}
    assert set(index_dataset("breakhis", tmp_path, magnification="40X").table["magnification"]) == {"40X"}


def test_index_is_cached_and_refreshed_when_a_file_changes(tmp_path: Path, isolated_cache: Path) -> None:
    make_idc_tree(tmp_path, {"101": (2, 2)})
    assert len(index_dataset("idc", tmp_path).table) == 4
    assert len(list(isolated_cache.glob("index-*.json"))) == 1
    (tmp_path / "101" / "0" / idc_name("101", 1, 1, 0)).write_bytes(b"")
    index = index_dataset("idc", tmp_path)
    assert len(index.table) == 3 and len(index.skipped) == 1


def test_real_idc_subset_counts(shared_idc: Path) -> None:
    summary = index_dataset("idc", shared_idc).summary()
    assert (summary["images"], summary["patients"], summary["labels"]) == (7082, 14, {"0": 3782, "1": 3300})
    assert summary["skipped"] == [] and summary["padded"] > 0


def test_real_breakhis_subset(shared_breakhis: Path) -> None:
    index = index_dataset("breakhis", shared_breakhis)
    assert len(index.table) == 8 and set(index.table["width"]) == {700}
    assert "22549" in set(index.table["patient"])


def test_index_command_prints_the_json_contract(shared_idc: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bc_helpers", "index", "--dataset", "idc", "--data-dir", str(shared_idc)],
        capture_output=True, text=True, check=True,
    )
    summary = json.loads(out.stdout)
    assert {"dataset", "images", "patients", "labels", "skipped"} <= summary.keys()
    assert summary["images"] == 7082


def test_index_command_fails_clearly_on_a_layout_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bc_helpers", "index", "--dataset", "idc", "--data-dir", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr


def test_indexing_never_generates_the_sample_and_says_how(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bc_helpers.data import sources

    monkeypatch.setenv("BC_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(LayoutError, match="python -m bc_helpers sample --out data/sample"):
        index_dataset("sample")
    assert not (tmp_path / "data").exists()
    made = []
    monkeypatch.setattr(sources, "ensure_sample", made.append)
    assert sources.resolve_data_dir("sample", "") == tmp_path / "data" / "sample" / "idc"
    assert sources.resolve_data_dir("idc", None) == tmp_path / "data" / "raw" / "idc" and made == [
        tmp_path / "data" / "sample"]
    assert sources.resolve_data_dir("sample", tmp_path / "mine") == tmp_path / "mine" and len(made) == 1


def test_the_leakage_study_trains_each_dataset_under_its_leaky_split_and_the_papers() -> None:
    from bc_helpers.data.registry import facts

    assert facts("sample").image_protocols == ("paper",)
    assert facts("breakhis").image_protocols == ("kaggle", "paper")
    assert all(facts(d).image_protocols[0] == facts(d).leaky_protocol for d in ("idc", "sample_breakhis"))
