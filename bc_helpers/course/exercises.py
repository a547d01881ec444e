"""Exercises a student completes: a cell with a `TODO` leaves an answer at None; a check cell (its code hidden,
since it holds the answer) says right or wrong without giving the answer away; a solution cell, hidden and
tagged `solution`, fills the `TODO` when RUN_SOLUTIONS is on (CI runs it) and checks again.

Notebook convention, read by `tests/test_solutions.py`: the student's cell is tagged `exercise` and holds
`TODO`; the check cell is tagged `check`; the solution cell is tagged `solution`, comes after both, and has its
source hidden (`metadata.jupyter.source_hidden`)."""

from __future__ import annotations

import math
from collections.abc import Iterable


def check(name: str, answer: object, expected: object, tolerance: float = 1e-6, hint: str = "") -> bool:
    """Print whether `answer` matches `expected` (numbers within `tolerance`, relative; sets of items by their
    members; anything else by equality). Prints what is wrong in words, never the expected value."""
    if answer is None:
        print(f"{name}: not done yet (fill in the TODO, then run this cell again)")
        return False
    right = _matches(answer, expected, tolerance)
    print(f"{name}: {'right' if right else 'not yet'}" + ("" if right or not hint else f" ({hint})"))
    return right


def _matches(answer: object, expected: object, tolerance: float) -> bool:
    if isinstance(expected, bool) or isinstance(answer, bool):
        return isinstance(answer, bool) and isinstance(expected, bool) and answer == expected
    if isinstance(expected, (int, float)) and isinstance(answer, (int, float)):
        return math.isclose(float(answer), float(expected), rel_tol=tolerance, abs_tol=tolerance)
    if isinstance(expected, (set, frozenset)) and isinstance(answer, Iterable):
        return set(answer) == set(expected)
    return answer == expected
