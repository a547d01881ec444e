"""The TensorFlow and Keras versions the workbook is tested with, and the message the setup cell prints when the
kernel has others (a Keras upgraded without its TensorFlow, a TensorFlow 2.15 that brings Keras 2, an install
made without restarting the kernel). Only `packaging`: it runs before TensorFlow is trusted."""

from __future__ import annotations

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

# pyproject.toml's bounds (tests/test_stack_versions.py keeps them equal): the lower ends are Colab's versions
# (constraints/colab.txt, tested by `make test-colab`), the upper ends the newest that `make test` tests.
TENSORFLOW = SpecifierSet(">=2.20,<2.22")
KERAS = SpecifierSet(">=3.13,<4")
FIX = ("pip install 'tensorflow>=2.20,<2.22' 'keras>=3.13,<4' (tensorflow-cpu on a machine without a GPU), then "
       "restart the kernel: Colab, Runtime > Restart session; Kaggle, Run > Restart & clear cell outputs; locally, "
       "`make setup` and the kernel 'bc-workbook (.venv)'")


def _outside(version: str, bounds: SpecifierSet) -> bool:
    try:
        return not bounds.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return True


def mismatch(tensorflow: str, keras: str) -> str | None:
    """None when both versions are the tested ones; else the message to print (what is wrong, and the fix)."""
    wrong = [f"{name} {version} (tested: {bounds})" for name, version, bounds in
             (("TensorFlow", tensorflow, TENSORFLOW), ("Keras", keras, KERAS)) if _outside(version, bounds)]
    if not wrong:
        return None
    return (f"Keras/TensorFlow mismatch: this kernel has {' and '.join(wrong)}; models may fail to build, load or "
            f"train. Fix: {FIX}.")
