from __future__ import annotations

from packaging.requirements import Requirement

from bc_helpers import paths
from bc_helpers.course import cells as course
from bc_helpers.course import stack


def test_tested_bounds_are_pyprojects() -> None:
    project = course.tomllib.loads((paths.repo_root() / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(t) for t in project["dependencies"] + project["optional-dependencies"]["cpu"]]
    found = {r.name: r.specifier for r in reqs}
    assert (found["keras"], found["tensorflow-cpu"]) == (stack.KERAS, stack.TENSORFLOW)


def test_mismatch_names_the_wrong_version_and_the_fix() -> None:
    assert stack.mismatch("2.20.0", "3.13.2") is None and stack.mismatch("2.21.0", "3.15.1") is None
    message = stack.mismatch("2.15.1", "2.15.0")
    assert message.startswith("Keras/TensorFlow mismatch: this kernel has TensorFlow 2.15.1 (tested: <2.22,>=2.20) "
                              "and Keras 2.15.0 (tested: <4,>=3.13)")
    assert "Runtime > Restart session" in message and "pip install 'tensorflow>=2.20,<2.22'" in message
    assert stack.mismatch("2.20.0", "3.12.0").startswith(
        "Keras/TensorFlow mismatch: this kernel has Keras 3.12.0 (tested: <4,>=3.13); models may fail")
