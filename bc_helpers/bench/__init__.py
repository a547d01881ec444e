"""`python -m bc_helpers bench`: how fast the workbook trains, reads and balances, in figures."""

from .measure import run_bench
from .render import render

__all__ = ["render", "run_bench"]
