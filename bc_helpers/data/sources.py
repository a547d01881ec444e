"""The one place where a dataset's folder is chosen and, for the synthetic sample, generated on first use.

Indexing (`datasets.index_dataset`) never generates anything: the notebooks, `train` and the commands call
`resolve_data_dir` first, so the sample appears on Binder or Colab without `make setup`.
"""

from __future__ import annotations

from pathlib import Path

from .registry import default_data_dir, facts, sample_root
from .sample import ensure_sample


def resolve_data_dir(dataset: str, data_dir: str | Path | None = None) -> Path:
    """`data_dir` when given; else the dataset's default folder, generating the sample there if it is synthetic."""
    if data_dir:
        return Path(data_dir)
    if facts(dataset).synthetic:
        ensure_sample(sample_root())
    return default_data_dir(dataset)
