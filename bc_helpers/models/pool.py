"""Compiled models kept for reuse, one per architecture, so that Keras builds each model's graphs once.

On its first fit, Keras traces a model's training step into a TensorFlow graph, and TensorFlow optimises it; the
same happens to its evaluation and prediction steps on their first use. For ResNet-50 on a CPU that first step
costs more than one of the epochs its CPU budget trains (docs/measurements/first-step.md). A grid search fits one
architecture several times
(every fold, and settings that differ only in their learning rate); a notebook then trains the chosen setting
again, and an ablation trains it under several seeds. A `ModelPool` hands out one compiled model for all of them,
reset each time to the weights a fresh build gives, with a fresh optimizer state: a run's result does not depend
on whether its model was reused.
"""

from __future__ import annotations

import inspect

from .builders import PIPELINE_DEFAULTS, build_model, compile_model, get_builder
from .runtime import keras, tf


class ModelPool:
    """Compiled models by architecture: the builder's name, its arguments and the precision policy."""

    def __init__(self) -> None:
        self._models: dict[str, keras.Model] = {}

    def __len__(self) -> int:
        return len(self._models)

    def fresh(self, name: str, learning_rate: float, **kwargs: object) -> keras.Model:
        """A compiled model of build_model(name, **kwargs) with the initial weights that this build draws (seed
        first: runtime.set_seed or seed_build) and a fresh Adam at `learning_rate`: the pool's model of this
        architecture, reset, or the new build, compiled and kept."""
        initial = build_model(name, **kwargs)
        key = repr((name, sorted(_with_defaults(name, kwargs).items()), keras.mixed_precision.global_policy().name))
        model = self._models.get(key)
        if model is None:
            self._models[key] = compile_model(initial, learning_rate)
            return self._models[key]
        for target, source in zip(model.variables, initial.variables, strict=True):  # weights, random states
            target.assign(source)
        for variable in model.optimizer.variables:  # moments and the step count
            variable.assign(tf.zeros_like(variable))
        model.optimizer.learning_rate.assign(learning_rate)
        return model

    def clear(self) -> None:
        """Drop every model and Keras's global state (layer names, the graph), freeing their memory."""
        self._models.clear()
        keras.backend.clear_session()


def _with_defaults(name: str, kwargs: dict) -> dict:
    """The builder's arguments with its defaults filled in: {"weights": None} and {} build the same model."""
    parameters = inspect.signature(get_builder(name)).parameters.values()
    defaults = {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
    return {**PIPELINE_DEFAULTS, **defaults, **kwargs}


_SHARED: list[ModelPool] = []


def shared_pool() -> ModelPool:
    """The process's pool, made on first use (never on import): a notebook's search, its final run and its
    ablation then reuse one compiled model per architecture without passing a pool around."""
    if not _SHARED:
        _SHARED.append(ModelPool())
    return _SHARED[0]
