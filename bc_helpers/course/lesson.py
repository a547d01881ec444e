"""The steps every model notebook (03-08) takes, written once: search the learning rate by patient-grouped
cross-validation, train the chosen setting, and say in one sentence what each result shows."""

from __future__ import annotations

from pathlib import Path

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
    if len(table) < 2:
        return text
    gap = top["mean_roc_auc"] - table["mean_roc_auc"].iloc[1]
    verdict = ("smaller than the fold-to-fold spread: at this size the search cannot really tell the settings apart"
               if gap < top["std_roc_auc"] else "larger than the fold-to-fold spread")
    return f"{text} The runner-up is {gap:.3f} behind, {verdict}."


def result_takeaway(run_dir: str | Path, metrics: dict, name: str) -> str:
    """One sentence on a trained model's test result, every number from its run (see evaluation.reading)."""
    lo, hi = metrics["ci"]["roc_auc"]
    one_class = min(metrics["sensitivity"], metrics["specificity"]) < 0.2
    verdict = ("With sensitivity or specificity under 0.2, it calls most test images one class: it has not learned "
               "a usable rule at this budget." if one_class else
               "Both classes are predicted, but a ROC-AUC under 0.6 ranks images little or no better than chance."
               if metrics["roc_auc"] < 0.6 else "Both classes are recognised.")
    return (f"**What you should see:** on {metrics['n_patients']} test patients ({metrics['n_images']} images) "
            f"{name} reaches ROC-AUC {metrics['roc_auc']:.3f} (95% interval by patient {lo:.3f}-{hi:.3f}) and "
            f"balanced accuracy {metrics['balanced_accuracy']:.3f}: sensitivity {metrics['sensitivity']:.2f}, "
            f"specificity {metrics['specificity']:.2f} at the threshold {metrics['threshold']:.2f} chosen on "
            f"validation patients. {verdict}")
