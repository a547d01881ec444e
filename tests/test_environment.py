"""The install routes agree: pyproject.toml, conda's environment.yml, Binder's environment and postBuild, and the
Makefile's set-up, which must install everything `make run` and `make test` use."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from bc_helpers import paths

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = paths.repo_root()
# conda-forge's name where it differs from PyPI's (tensorflow: conda-forge's CPU build where there is no CUDA).
CONDA_NAME = {"tensorflow-cpu": "tensorflow", "matplotlib": "matplotlib-base"}
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
