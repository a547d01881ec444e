"""Evaluation: metrics and their patient-level intervals, threshold and review decisions, paired comparisons,
the ablation's statistics, what a trained model's result says (reading), tables of finished runs and their
selection, and the paper's numbers. Never imports TensorFlow and never trains."""

from . import paper
from .ablation import compare_arms
from .decisions import (
    choose_threshold,
    coverage_table,
    review_band,
    review_flags,
    sensitivity_threshold,
    youden_threshold,
)
from .leakage import leak_statistics, leakage_row
from .metrics import binary_metrics, bootstrap, evaluation_report, patient_metrics, reliability_table
from .paired import RunTest, compare_runs, paired_differences, seed_difference
from .reading import Reading, read_result, read_run_result, table_reading
from .resampling import PatientDraws, decidable, percentile_interval, percentile_p, seed_interval, verdict
from .selection import ablation_table, leakage_runs, seed_runs, select_runs, settings_table
from .tables import collect_runs, cost_table, leakage_table, paper_table

__all__ = [
    "PatientDraws", "Reading", "RunTest", "ablation_table", "binary_metrics", "bootstrap", "choose_threshold",
    "collect_runs", "compare_arms", "compare_runs", "cost_table", "coverage_table", "decidable",
    "evaluation_report", "leak_statistics", "leakage_row", "leakage_runs", "leakage_table", "paired_differences",
    "paper", "paper_table", "patient_metrics", "percentile_interval", "percentile_p", "read_result",
    "read_run_result", "reliability_table", "review_band", "review_flags", "seed_difference", "seed_interval",
    "seed_runs", "select_runs", "sensitivity_threshold", "settings_table", "table_reading", "verdict",
    "youden_threshold",
]
