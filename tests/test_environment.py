"""The three install routes (pyproject, conda's environment.yml, Binder) name the same packages and bounds."""

from __future__ import annotations

import tomllib
import yaml
from packaging.requirements import Requirement

from bc_helpers import paths

ROOT = paths.repo_root()


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    reqs = project["dependencies"] + extras["cpu"] + extras["test"]
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in reqs}


def _conda(path: str) -> tuple[dict[str, str], list[str], list]:
    env = yaml.safe_load((ROOT / path).read_text())
    deps = env["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    reqs = {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in pip if not r.startswith("-")}
    return reqs, [r for r in pip if r.startswith("-")], deps


def test_environment_yml_matches_pyproject() -> None:
    reqs, editable, deps = _conda("environment.yml")
    assert reqs == _pyproject()
    assert editable == ["-e ."] and "python=3.11" in deps


def test_binder_environment_matches_pyproject() -> None:
    reqs, editable, deps = _conda("binder/environment.yml")
    assert reqs == _pyproject()
    assert editable == [] and "python=3.11" in deps


def test_binder_postbuild_installs_the_package_and_the_sample() -> None:
    lines = (ROOT / "binder" / "postBuild").read_text().splitlines()
    assert lines[0] == "#!/bin/bash" and lines[1] == "set -e"
    body = "\n".join(lines)
    assert "pip install --no-deps -e ." in body and "bc_helpers sample" in body


def test_gpu_extra_and_cpu_default() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["cpu"][0].startswith("tensorflow-cpu") and extras["gpu"][0].startswith("tensorflow[and-cuda]")
    assert ".[cpu,test,browser]" in (ROOT / "Makefile").read_text()
