"""The exercise checker says right or wrong, never the answer."""

import pytest

from bc_helpers.course.exercises import check


def test_check_says_right_within_tolerance(capsys: pytest.CaptureFixture[str]) -> None:
    assert check("ex 1", 0.8501, 0.85, tolerance=1e-3)
    assert capsys.readouterr().out.strip() == "ex 1: right"


def test_check_says_not_yet_without_the_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert not check("ex 2", 120, 18432, hint="count the weights of one filter first")
    out = capsys.readouterr().out
    assert "not yet" in out and "18432" not in out and "18,432" not in out


def test_a_todo_left_at_none_is_not_done(capsys: pytest.CaptureFixture[str]) -> None:
    assert not check("ex 3", None, 3)
    assert "not done yet" in capsys.readouterr().out


def test_sets_compare_by_members_and_booleans_exactly() -> None:
    assert check("s", ["b", "a"], {"a", "b"}) and not check("s", ["a"], {"a", "b"})
    assert check("b", True, True) and not check("b", 1, True)
