"""Training: one run into its folder, distribution over devices, the grouped grid search, using a saved model,
and the experiments (the ablation's arms; repeated patient-grouped cross-validation of several arms on the same
test images). Importing it imports TensorFlow."""

from .crossval import Arm, Design, run_crossval
from .distributed import choose_strategy
from .experiments import run_ablation
from .gridsearch import GridResult, SearchBudget, grid_search, grouped_folds, search_arrays
from .inference import evaluate, load_model, predict, predict_probabilities
from .trainer import evaluate_run, load_data, train

__all__ = [
    "Arm", "Design", "GridResult", "SearchBudget", "choose_strategy", "evaluate", "evaluate_run", "grid_search",
    "grouped_folds", "load_data", "load_model", "predict", "predict_probabilities", "run_ablation", "run_crossval",
    "search_arrays", "train",
]
