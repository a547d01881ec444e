"""The package's shape: imports form no cycle, importing changes no process-wide state, one owner per name."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import bc_helpers

PACKAGE = Path(bc_helpers.__file__).parent
# Every module by its dotted name; a package by its own name (its __init__).
MODULES = sorted(
    ".".join(("bc_helpers", *p.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
    for p in PACKAGE.rglob("*.py") if p.name != "__main__.py"
)
RUN_FILES = ("model.keras", "config.json", "split.csv", "history.csv", "predictions.csv", "metrics.json")
# The layers: data and evaluation never import TensorFlow (so never models or training), evaluation never trains.
NO_TENSORFLOW = ("bc_helpers.data", "bc_helpers.evaluation", "bc_helpers.runs")
HEAVY = ("bc_helpers.models", "bc_helpers.training")

STATE = """
import json, sys
import matplotlib, PIL.Image, tensorflow as tf, keras
def state():
    return {"matplotlib_backend": str(dict.__getitem__(matplotlib.rcParams, "backend")),
            "pil_max_pixels": PIL.Image.MAX_IMAGE_PIXELS, "tf_log_level": tf.get_logger().level,
            "keras_policy": keras.mixed_precision.global_policy().name}
before = state()
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps({"before": before, "after": state()}))
"""


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rsplit(".", 1)[0]


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of `tree` outside `if TYPE_CHECKING:` blocks (those imports never run)."""
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
            for child in node.body for n in ast.walk(child)}
    return [n for n in ast.walk(tree) if id(n) not in skip]


def _imports(module: str) -> set[str]:
    """The package modules `module` imports, at the top or inside functions, with the __init__ of every package it
    enters from outside (importing bc_helpers.data.splits runs bc_helpers/data/__init__.py too)."""
    path = PACKAGE.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    here = _package_of(module, path)
    targets: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = here.split(".")[: len(here.split(".")) - node.level + 1] if node.level else []
            stem = ".".join([*base, *(node.module.split(".") if node.module else [])])
            targets.add(stem)
            targets |= {f"{stem}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            targets |= {a.name for a in node.names}
    found = set()
    for target in targets:
        parts = target.split(".")
        for k in range(2, len(parts) + 1):  # the packages entered on the way, then the module itself
            name = ".".join(parts[:k])
            if name in MODULES and not here.startswith(name) and name != module:
                found.add(name)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle in `graph` as a list of modules, or None."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return path[path.index(name):] + [name]
        if name in done:
            return None
        for dep in sorted(graph[name]):
            cycle = visit(dep, [*path, name])
            if cycle:
                return cycle
        done.add(name)
        return None

    return next((c for c in (visit(m, []) for m in graph) if c), None)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_finder_counts_packages_entered_and_re_exports() -> None:
    assert "bc_helpers.data" in _imports("bc_helpers.evaluation.tables")  # enters data through its __init__
    assert "bc_helpers.data.registry" in _imports("bc_helpers.evaluation.tables")
    assert "bc_helpers.evaluation.metrics" in _imports("bc_helpers.evaluation")  # a re-export is an import
    assert "bc_helpers.data" not in _imports("bc_helpers.data.cache")  # a sibling does not re-enter its package


def test_the_package_imports_form_no_cycle() -> None:
    graph = {name: _imports(name) for name in MODULES}
    assert "bc_helpers.data.sample" not in graph["bc_helpers.data.datasets"]
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"


def test_the_layers_keep_their_rule() -> None:
    graph = {name: _imports(name) for name in MODULES}
    for name, deps in graph.items():
        if name.startswith(NO_TENSORFLOW):
            heavy = sorted(d for d in deps if d.startswith(HEAVY))
            assert not heavy, f"{name} imports {heavy}: data, runs and evaluation never import TensorFlow"


def test_the_package_is_in_rooms() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    rooms = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert len(top) <= 8, top
    assert len(rooms) >= 5, rooms
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"modules over 400 lines: {long}"


def test_importing_every_module_changes_no_global_state() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # so that a matplotlib.use() would show
    out = subprocess.run([sys.executable, "-c", STATE, *MODULES], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["after"] == seen["before"]


def test_data_evaluation_and_the_report_import_no_tensorflow() -> None:
    code = ("import sys, bc_helpers.data, bc_helpers.evaluation, bc_helpers.runs, bc_helpers.course.report; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "False"


def test_run_file_names_are_spelled_only_by_the_run_folder() -> None:
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "runs" / "folders.py":
            continue
        named = [n.value for n in ast.walk(ast.parse(path.read_text()))
                 if isinstance(n, ast.Constant) and n.value in RUN_FILES + ("backup", "tensorboard")]
        assert not named, f"{path.name} names run files itself: {named}"


def test_precision_policy_and_tf_log_level_restore_what_they_change() -> None:
    from bc_helpers.models.runtime import keras, tf, tf_log_level
    from bc_helpers.training.trainer import precision_policy

    policy, level = keras.mixed_precision.global_policy().name, tf.get_logger().level
    with precision_policy("mixed_float16"):
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
    try:
        with precision_policy("mixed_bfloat16"):
            raise RuntimeError("a failed build")
    except RuntimeError:
        pass
    assert keras.mixed_precision.global_policy().name == policy

    @tf_log_level("ERROR")
    def quiet() -> int:
        return tf.get_logger().level

    assert quiet() == 40 and tf.get_logger().level == level


def test_a_wheel_holds_every_room_and_the_books_assets(tmp_path: Path) -> None:
    """A non-editable install (Binder, a user's pip install) gets the subpackages and the book's style files."""
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(PACKAGE.parent), "--no-deps", "-w",
                            str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    import zipfile

    names = set(zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist())
    rooms = [p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()]
    assert all(f"bc_helpers/{room}/__init__.py" in names for room in rooms), sorted(names)[:20]
    assert {"bc_helpers/course/static/book.css", "bc_helpers/course/static/book.js"} <= names
