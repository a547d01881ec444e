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
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
RUN_FILES = ("model.keras", "config.json", "split.csv", "history.csv", "predictions.csv", "metrics.json")

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
    importlib.import_module(f"bc_helpers.{name}")
print(json.dumps({"before": before, "after": state()}))
"""


def _imports(path: Path) -> set[str]:
    """The package modules `path` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bc_helpers."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("bc_helpers.")}
    return found & set(MODULES)


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


def test_the_package_imports_form_no_cycle() -> None:
    graph = {name: _imports(PACKAGE / f"{name}.py") for name in MODULES}
    assert "sample" not in graph["datasets"] and "datasets" not in graph["sample"]
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"


def test_importing_every_module_changes_no_global_state() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # so that a matplotlib.use() would show
    out = subprocess.run([sys.executable, "-c", STATE, *MODULES], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["after"] == seen["before"]


def test_compare_and_report_import_no_tensorflow() -> None:
    code = "import sys, bc_helpers.compare, bc_helpers.report; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "False"


def test_model_names_match_the_models_that_can_be_built() -> None:
    from bc_helpers.models import REGISTRY
    from bc_helpers.runs import MODEL_NAMES

    assert tuple(REGISTRY) == MODEL_NAMES


def test_run_file_names_are_spelled_only_by_the_run_folder() -> None:
    for path in PACKAGE.glob("*.py"):
        if path.name == "runs.py":
            continue
        named = [n.value for n in ast.walk(ast.parse(path.read_text()))
                 if isinstance(n, ast.Constant) and n.value in RUN_FILES + ("backup", "tensorboard")]
        assert not named, f"{path.name} names run files itself: {named}"


def test_precision_policy_and_tf_log_level_restore_what_they_change() -> None:
    from bc_helpers.runtime import keras, tf, tf_log_level
    from bc_helpers.training import precision_policy

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
