"""The file-name grammar: what `layouts` writes, it reads back; real names parse to what they say."""

from __future__ import annotations

import ast
from pathlib import Path

from bc_helpers.data import layouts


def test_idc_names_round_trip_and_parse_a_real_name() -> None:
    name = layouts.format_idc("10253", 1001, 51, 1)
    assert name == "10253_idx5_x1001_y51_class1.png"
    assert layouts.parse_idc(name) == layouts.IdcName("10253", 1001, 51, 1)
    assert layouts.idc_path(Path("r"), "10253", 1001, 51, 1) == Path("r/10253/1/10253_idx5_x1001_y51_class1.png")
    for bad in ("10253_idx5_x1_y1_class2.png", "10253_idx5_x1_y1_class1.jpg", "a_idx5_x1_y1_class0.png"):
        assert layouts.parse_idc(bad) is None


def test_breakhis_names_round_trip_and_parse_a_real_name() -> None:
    real = layouts.parse_breakhis("SOB_M_DC-14-16716-400-010.png")
    assert real == layouts.BreakhisName(1, "DC", "14", "16716", "16716", "400X", 10)
    with_suffix = layouts.parse_breakhis("SOB_B_TA-14-13200AB-400-001.png")
    assert (with_suffix.label, with_suffix.slide, with_suffix.patient) == (0, "13200AB", "13200")
    name = layouts.format_breakhis(0, "PT", "30001CD", 7)
    assert layouts.parse_breakhis(name) == layouts.BreakhisName(0, "PT", "14", "30001CD", "30001", "400X", 7)
    assert layouts.parse_breakhis("SOB_X_DC-14-1-400-1.png") is None
    assert layouts.breakhis_kaggle_path(Path("r"), "test", 1, name).parts[1:4] == (
        layouts.BREAKHIS_KAGGLE_TOP, "test", "malignant")


def test_folders_are_recognised_by_their_layout(tmp_path: Path) -> None:
    (tmp_path / "idc" / "101" / "0").mkdir(parents=True)
    (tmp_path / "bk" / layouts.BREAKHIS_KAGGLE_TOP / "train").mkdir(parents=True)
    (tmp_path / "v1" / "BreaKHis_v1" / "histology_slides" / "breast").mkdir(parents=True)
    found = {name: [lay for lay in layouts.LAYOUT_HELP if layouts.looks_like(tmp_path / name, lay)]
             for name in ("idc", "bk", "v1")}
    assert found == {"idc": ["idc"], "bk": ["breakhis_kaggle"], "v1": ["breakhis_v1"]}


def test_file_names_are_written_only_by_layouts() -> None:
    """No other module spells a layout's file name: `_idx5_` and `SOB_` appear in layouts alone."""
    package = Path(layouts.__file__).parent
    for path in package.glob("*.py"):
        if path.name == "layouts.py":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and ast.get_docstring(node)}
        strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                   and id(n) not in docstrings]
        joined = [s for s in strings if "_idx5_" in s or "SOB_" in s]
        assert not joined, f"{path.name} spells a file name: {joined}"
