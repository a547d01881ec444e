"""Writing files so that a crash never leaves one half-written: write beside it, then rename."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd


def _tmp_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file beside it and a rename."""
    path = Path(path)
    tmp = _tmp_for(path)
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def write_json_atomic(path: str | Path, payload: object) -> Path:
    """Write `payload` as indented JSON (numpy scalars and paths included), atomically."""
    return write_text_atomic(path, json.dumps(payload, indent=2, default=_jsonable) + "\n")


def write_csv_atomic(path: str | Path, frame: pd.DataFrame) -> Path:
    """Write a table as CSV without its index, atomically."""
    return write_text_atomic(path, frame.to_csv(index=False))


def _jsonable(value: object) -> object:
    """numpy scalars and paths in JSON."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)
