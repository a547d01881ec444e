"""Training: one run into its folder, distribution over devices, the grouped grid search, using a saved model,
and the experiments (the ablation's arms, the leakage control). Importing it imports TensorFlow."""

from .distributed import choose_strategy
from .experiments import run_ablation
from .fingerprint import run_fingerprints, stain_fingerprint
from .gridsearch import GridResult, SearchBudget, grid_search, grouped_folds, search_arrays
from .inference import evaluate, load_model, predict, predict_probabilities
from .trainer import evaluate_run, load_data, train

__all__ = [
    "GridResult", "SearchBudget", "choose_strategy", "evaluate", "evaluate_run", "grid_search", "grouped_folds",
    "load_data", "load_model", "predict", "predict_probabilities", "run_ablation", "run_fingerprints",
    "search_arrays", "stain_fingerprint", "train",
]
