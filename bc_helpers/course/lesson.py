"""The steps every model notebook (03-08) takes, written once: search the learning rate by patient-grouped
cross-validation, train the chosen setting, and say in one sentence what each result shows."""

from __future__ import annotations

from pathlib import Path

from ..evaluation.reading import read_run_result
from ..training.gridsearch import GridResult


def search_takeaway(search: GridResult) -> str:
    """What the search chose, and whether its margin over the runner-up beats the spread across folds."""
    table = search.table
    top = table.iloc[0]
    chosen = f"learning rate {search.learning_rate:g}" if search.learning_rate is not None else "the first setting"
    size = f" of at most {search.budget.images} images" if search.budget is not None else ""
    text = (f"**What you should see:** {chosen} scored the highest mean validation ROC-AUC, "
            f"{top['mean_roc_auc']:.3f} (± {top['std_roc_auc']:.3f} over {search.folds['fold'].nunique()} "
            f"folds{size}).")
    if search.skipped_folds:
        text += (f" Fold(s) {', '.join(str(f + 1) for f in search.skipped_folds)} could not score: their validation "
                 "patients held one class.")
    if len(table) < 2:
        return text
    gap = top["mean_roc_auc"] - table["mean_roc_auc"].iloc[1]
    spread = max(top["std_roc_auc"], table["std_roc_auc"].iloc[1])  # the wider of the two settings' spreads
    verdict = (f"smaller than the wider fold-to-fold spread of the two, {spread:.3f}: at this size the search cannot "
               "really tell the settings apart" if gap < spread else
               f"larger than the wider fold-to-fold spread of the two, {spread:.3f}")
    return (f"{text} The runner-up is {gap:.3f} behind (± {table['std_roc_auc'].iloc[1]:.3f} over its folds), "
            f"{verdict}.")


def result_takeaway(run_dir: str | Path, name: str) -> str:
    """One sentence on a trained model's test result, every number from its run folder: recognised only when
    the interval and the majority baseline say so, and collapsed, chance or one-class outputs named as such
    (`bc_helpers.evaluation.reading` decides)."""
    return read_run_result(run_dir, name=name).takeaway
