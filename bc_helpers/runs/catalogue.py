"""The six models of the course, in its order, with what each is called, which notebook teaches it and how long
it trains: the one list that the builders, the runner, the tables and the bench read (no TensorFlow here;
`bc_helpers.models` maps each name to its builder)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class ModelEntry:
    """One model: `cost` ranks how long its notebook takes (0 the longest), so the runner starts it first."""

    name: str
    display: str
    notebook: str
    cost: int


CATALOGUE = (
    ModelEntry("cnn", "CNN", "03_cnn", 3),
    ModelEntry("lstm", "LSTM", "04_lstm", 3),
    ModelEntry("gru", "GRU", "05_gru", 3),
    ModelEntry("vgg16", "VGG-16", "06_vgg16", 2),
    ModelEntry("resnet50", "ResNet-50", "07_resnet50", 1),
    ModelEntry("cnn_lstm", "CNN-LSTM", "08_cnn_lstm", 0),
)
MODEL_NAMES = tuple(m.name for m in CATALOGUE)
MODEL_NOTEBOOKS = {m.name: m.notebook for m in CATALOGUE}
DISPLAY_NAMES = {m.name: m.display for m in CATALOGUE}
NOTEBOOK_COST = {m.notebook: m.cost for m in CATALOGUE}


def display_name(name: str) -> str:
    """'CNN-LSTM' for 'cnn_lstm'; a name outside the six (a registered model, a control) as it is."""
    return DISPLAY_NAMES.get(name, name)


def in_course_order(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """`frame` sorted by the columns `by`, its "model" column in the course's order (others after, by name)."""
    if frame.empty:
        return frame.reset_index(drop=True)
    rank = {name: i for i, name in enumerate(MODEL_NAMES)}
    return frame.sort_values(by, key=lambda s: s.map(lambda m: (rank.get(m, len(rank)), m)) if s.name == "model"
                             else s).reset_index(drop=True)
