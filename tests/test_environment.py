"""The install routes agree: pyproject.toml, conda's environment.yml, Binder's environment and postBuild, and the
Makefile's set-up, which must install everything `make run` and `make test` use."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from bc_helpers import paths

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = paths.repo_root()
# conda-forge's name where it differs from PyPI's (tensorflow: conda-forge's CPU build where there is no CUDA).
CONDA_NAME = {"tensorflow-cpu": "tensorflow", "matplotlib": "matplotlib-base", "types-PyYAML": "types-pyyaml"}
CONDA_EXTRAS = ["cpu", "run", "lab", "test"]
CONDA_PYTHON = {"python_version": "3.11", "extra": ""}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _expected() -> dict[str, SpecifierSet]:
    """pyproject's core dependencies and the conda extras, under conda-forge's names, for the env's Python."""
    project = _project()
    texts = project["dependencies"] + [r for extra in CONDA_EXTRAS for r in project["optional-dependencies"][extra]]
    reqs = [Requirement(t) for t in texts]
    return {CONDA_NAME.get(r.name, r.name): r.specifier for r in reqs
            if r.marker is None or r.marker.evaluate(CONDA_PYTHON)}


def _conda(path: str) -> tuple[dict[str, SpecifierSet], list[str]]:
    """A conda file's packages (name -> bounds, python and pip aside) and its pip list."""
    deps = yaml.safe_load((ROOT / path).read_text())["dependencies"]
    pip = next((d["pip"] for d in deps if isinstance(d, dict)), [])
    found = {}
    for dep in deps:
        if isinstance(dep, str) and dep.split("=")[0] not in {"python", "pip"}:
            name, _, spec = dep.partition(" ")
            found[name] = SpecifierSet(spec)
    return found, pip


@pytest.mark.parametrize("path", ["environment.yml", "binder/environment.yml"])
def test_conda_files_take_pyprojects_packages_from_conda_forge(path: str) -> None:
    env = yaml.safe_load((ROOT / path).read_text())
    found, pip = _conda(path)
    assert env["channels"] == ["conda-forge"] and "python=3.11" in env["dependencies"]
    assert found == _expected()
    assert pip == (["-e ."] if path == "environment.yml" else [])


def test_binder_postbuild_installs_the_package_then_the_sample_and_stops_at_a_failure(tmp_path: Path) -> None:
    """postBuild run for real with a `python` that logs its arguments; a failing first step stops it (set -e)."""
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "calls.txt"
    (fake / "python").write_text(f'#!/bin/bash\necho "$*" >> {log}\nexit "${{FAIL:-0}}"\n')
    (fake / "python").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    subprocess.run(["bash", str(ROOT / "binder" / "postBuild")], cwd=ROOT, env=env, check=True)
    calls = [line.split() for line in log.read_text().splitlines()]
    assert calls[0][:3] == ["-m", "pip", "install"] and {"--no-deps", "-e"} <= set(calls[0]) and calls[0][-1] == "."
    assert calls[1][:3] == ["-m", "bc_helpers", "sample"]
    log.unlink()
    failed = subprocess.run(["bash", str(ROOT / "binder" / "postBuild")], cwd=ROOT, env={**env, "FAIL": "1"})
    assert failed.returncode != 0 and len(log.read_text().splitlines()) == 1


def _make_installs() -> set[str]:
    """The extras `make setup` installs, read from make's dry run of the set-up."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(["make", "-n", "-B", "setup"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    installs = [line for line in dry.splitlines() if " pip install " in line and " -e " in line]
    assert len(installs) == 1, dry
    spec = installs[0].split(" -e ")[1].strip().strip("\"'")
    return set(Requirement(f"bc_helpers{spec[1:]}").extras)


def test_make_setup_installs_what_run_and_test_use() -> None:
    extras = _project()["optional-dependencies"]
    chosen = _make_installs()
    names = {Requirement(r).name for extra in chosen for r in extras[extra]}
    assert {"tensorflow-cpu", "papermill", "ipykernel", "pytest", "nbval", "ruff", "jupyterlab"} <= names


def test_core_dependencies_leave_the_notebook_stack_to_the_platform() -> None:
    """Core is what the notebooks import; JupyterLab, papermill, the test tools and TensorFlow are extras."""
    core = {Requirement(r).name for r in _project()["dependencies"]}
    assert not core & {"jupyterlab", "papermill", "nbval", "ruff", "pytest", "playwright", "ipykernel",
                       "tensorflow", "tensorflow-cpu"}
    extras = _project()["optional-dependencies"]
    assert Requirement(extras["cpu"][0]).name == "tensorflow-cpu"
    assert Requirement(extras["gpu"][0]).name == "tensorflow" and "and-cuda" in Requirement(extras["gpu"][0]).extras


def _third_party_imports() -> dict[str, set[str]]:
    """Each third-party top-level module that bc_helpers imports (at the top or inside a function) -> the files."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "bc_helpers").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "bc_helpers":
                    found.setdefault(top, set()).add(path.stem)
    return found


def test_what_the_package_imports_is_core_or_the_extra_of_its_command() -> None:
    """A platform with only the core dependencies (Colab, after the setup cell) and its own TensorFlow imports every
    module the notebooks use; papermill and nbformat are imported only by the commands of the `run` extra."""
    project = _project()
    extras = project["optional-dependencies"]
    core = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    tensorflow = {canonicalize_name(Requirement(r).name) for r in extras["cpu"] + extras["gpu"]}
    run = {canonicalize_name(Requirement(r).name) for r in extras["run"]}
    commands = {"runner", "course", "book"}  # `python -m bc_helpers run`, `... notebooks --sync` and `... book`
    other_pythons = {canonicalize_name(r.name) for r in map(Requirement, project["dependencies"])
                     if r.marker is not None and not r.marker.evaluate()}  # tomli: Python 3.10's tomllib
    owners = metadata.packages_distributions()
    for module, files in _third_party_imports().items():
        if module == "google":  # google.colab: Colab's own module, imported only there
            assert files == {"colab"}
            continue
        if canonicalize_name(module) in other_pythons:
            continue
        dists = {canonicalize_name(d) for d in owners.get(module, [])}
        assert dists, f"{module} (imported by {sorted(files)}) is not installed"
        if dists & (core | tensorflow):
            continue
        assert dists & run and files <= commands, f"{module} ({sorted(files)}) must be a core dependency"
