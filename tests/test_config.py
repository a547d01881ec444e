"""A run's settings fail early: a wrong name is refused when the config is made or the command is parsed,
before any run folder or cache exists."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bc_helpers.errors import WorkbookError
from bc_helpers.runs.config import PROTOCOLS, STRATEGIES, TrainConfig


@pytest.mark.parametrize("field, value", [("protocol", "patinet"), ("balance", "smote"), ("stain", "norm"),
                                          ("threshold", "youdens"), ("output", "relu")])
def test_a_config_with_a_wrong_name_is_refused_naming_the_choices(field: str, value: str) -> None:
    with pytest.raises(WorkbookError, match=f"unknown {field} '{value}': choose one of"):
        TrainConfig(**{field: value})


def test_the_right_names_make_a_config() -> None:
    assert TrainConfig(protocol="paper", balance="none", stain="augment").protocol == "paper"


def test_a_wrong_strategy_is_refused_naming_the_choices() -> None:
    from bc_helpers.training.distributed import choose_strategy

    with pytest.raises(WorkbookError, match=", ".join(STRATEGIES)):
        choose_strategy("mirorred")


@pytest.mark.parametrize("option, value, choices", [("--protocol", "patinet", PROTOCOLS),
                                                    ("--strategy", "mirorred", STRATEGIES)])
def test_the_command_line_refuses_a_wrong_name_in_one_line(tmp_path: Path, option: str, value: str,
                                                           choices: tuple[str, ...]) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "BC_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "bc_helpers", "train", "--model", "cnn", "--out", str(out),
                           option, value], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and all(c in lines[0] for c in choices), done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists() and not (tmp_path / "cache").exists()
