"""The paper's hybrid, the CNN-LSTM, and its two ablation arms, built by one function so that they differ in one
thing only: how the feature map is read (an LSTM over its rows in order; over its rows in one fixed shuffled order;
a dense layer of the LSTM's parameter count over the flattened map)."""

from __future__ import annotations

import numpy as np

from .blocks import _conv_blocks, _head, _inputs
from .layers import PermuteSteps
from .runtime import keras


def cnn_lstm(
    image_size: int = 50, output: str = "sigmoid", augment: bool = True, filters: tuple[int, ...] = (32, 64, 128),
    kernel_size: int = 3, activation: str = "relu", pooling: str = "max", conv_dropout: float = 0.5,
    lstm_units: int = 128, lstm_dropout: float = 0.2, dense: int = 64, l2: float = 1e-4,
) -> keras.Model:
    """The paper's hybrid: conv blocks, dropout 0.5, the feature map's rows as a sequence, LSTM, dropout 0.2, dense."""
    return _hybrid("cnn_lstm", "lstm", image_size, output, augment, filters, kernel_size, activation, pooling,
                   conv_dropout, lstm_units, lstm_dropout, dense, l2)


def cnn_matched(
    image_size: int = 50, output: str = "sigmoid", augment: bool = True, filters: tuple[int, ...] = (32, 64, 128),
    kernel_size: int = 3, activation: str = "relu", pooling: str = "max", conv_dropout: float = 0.5,
    lstm_units: int = 128, lstm_dropout: float = 0.2, dense: int = 64, l2: float = 1e-4,
) -> keras.Model:
    """The ablation's CNN arm: the CNN-LSTM with its LSTM replaced by a dense ReLU layer of matched capacity on the
    flattened feature map (as many parameters as the LSTM(`lstm_units`) it replaces, to within one unit's worth),
    with the same dropouts in the same places. It differs from the CNN-LSTM in reading the map as a sequence only."""
    return _hybrid("cnn_matched", "dense", image_size, output, augment, filters, kernel_size, activation, pooling,
                   conv_dropout, lstm_units, lstm_dropout, dense, l2)


def cnn_lstm_shuffled(
    image_size: int = 50, output: str = "sigmoid", augment: bool = True, filters: tuple[int, ...] = (32, 64, 128),
    kernel_size: int = 3, activation: str = "relu", pooling: str = "max", conv_dropout: float = 0.5,
    lstm_units: int = 128, lstm_dropout: float = 0.2, dense: int = 64, l2: float = 1e-4,
) -> keras.Model:
    """The ablation's row-shuffled arm: the CNN-LSTM fed the feature map's rows in one fixed random order
    (`row_order`), the same for every image, fit and seed."""
    return _hybrid("cnn_lstm_shuffled", "shuffled", image_size, output, augment, filters, kernel_size, activation,
                   pooling, conv_dropout, lstm_units, lstm_dropout, dense, l2)


ROW_ORDER_SEED = 2025  # the row-shuffled arm's one permutation: a constant, so every fit reads the same order


def row_order(steps: int) -> list[int]:
    """The fixed permutation of `steps` rows the row-shuffled arm uses: seeded by a constant, and never the
    identity (a permutation that moved no row would test nothing)."""
    rng = np.random.default_rng(ROW_ORDER_SEED)
    order = rng.permutation(steps)
    while steps > 1 and (order == np.arange(steps)).all():
        order = rng.permutation(steps)
    return [int(i) for i in order]


def lstm_parameters(steps_features: int, units: int) -> int:
    """An LSTM's parameter count: 4 gates, each with input, recurrent and bias weights."""
    return 4 * (steps_features * units + units * units + units)


def _hybrid(name: str, reader: str, image_size: int, output: str, augment: bool, filters: tuple[int, ...],
            kernel_size: int, activation: str, pooling: str, conv_dropout: float, lstm_units: int,
            lstm_dropout: float, dense: int, l2: float) -> keras.Model:
    """Conv blocks, dropout, then `reader` on the feature map ("lstm": its rows in order; "shuffled": its rows in
    `row_order`; "dense": flattened, a dense layer of the LSTM's parameter count), dropout, dense, output."""
    inputs, x = _inputs(image_size, augment)
    x = _conv_blocks(x, tuple(filters), kernel_size, activation, pooling, l2)
    x = keras.layers.Dropout(conv_dropout)(x)
    _, rows, cols, channels = x.shape
    if reader == "dense":
        units = max(1, round(lstm_parameters(cols * channels, lstm_units) / (rows * cols * channels + 1)))
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(units, activation="relu", kernel_regularizer=keras.regularizers.l2(l2),
                               name="matched_dense")(x)
    else:
        x = keras.layers.Reshape((rows, cols * channels), name="rows_as_steps")(x)
        if reader == "shuffled":
            x = PermuteSteps(row_order(rows), name="rows_shuffled")(x)
        x = keras.layers.LSTM(lstm_units, kernel_regularizer=keras.regularizers.l2(l2))(x)
    x = keras.layers.Dropout(lstm_dropout)(x)
    x = keras.layers.Dense(dense, activation="relu", kernel_regularizer=keras.regularizers.l2(l2))(x)
    return keras.Model(inputs, _head(x, output, 0, 0, l2), name=name)
