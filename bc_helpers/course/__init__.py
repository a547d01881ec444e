"""The course: what notebooks call (set-up, training into a run folder, showing results), figures, widgets,
Colab, the cells every notebook shares, the runner and the report.

Its names load on first use (PEP 562): the setup cell imports `bc_helpers.course.colab` on Colab before the
workbook's dependencies are installed, so this package must not import them itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_OWNERS = {
    "setup": "notebook", "train_model": "notebook", "show_run": "notebook", "metrics_table": "notebook",
    "metrics_view": "notebook",
    "part_predictions": "notebook", "data_status": "notebook", "note_if_synthetic": "notebook",
    "resolve": "notebook", "write_report": "report", "readable": "report", "run_all": "runner",
    "install_on_colab": "colab", "search_takeaway": "lesson", "result_takeaway": "lesson",
    "plots": "", "widgets": "",
}

__all__ = [
    "data_status", "install_on_colab", "metrics_table", "metrics_view", "note_if_synthetic", "part_predictions",
    "plots", "readable", "resolve", "result_takeaway", "run_all", "search_takeaway", "setup", "show_run",
    "train_model", "widgets", "write_report",
]

if TYPE_CHECKING:
    from . import plots, widgets
    from .colab import install_on_colab
    from .lesson import result_takeaway, search_takeaway
    from .notebook import (
        data_status,
        metrics_table,
        metrics_view,
        note_if_synthetic,
        part_predictions,
        resolve,
        setup,
        show_run,
        train_model,
    )
    from .report import readable, write_report
    from .runner import run_all


def __getattr__(name: str) -> object:
    if name not in _OWNERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    owner = _OWNERS[name]
    if not owner:
        return importlib.import_module(f".{name}", __name__)
    return getattr(importlib.import_module(f".{owner}", __name__), name)
