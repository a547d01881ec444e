"""The figures draw what they claim, checked on small real arrays and on the artists they leave."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import average_precision_score  # noqa: E402

from bc_helpers.course import leakplots, plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_reliability_diagram_labels_each_filled_bin_with_its_count() -> None:
    prob = np.array([0.05, 0.08, 0.15, 0.55, 0.58, 0.95])
    fig = plots.reliability_diagram(np.array([0, 0, 1, 1, 0, 1]), prob)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["1", "1", "2", "2"]
    model = [line for line in ax.lines if line.get_label() == "model"][0]
    np.testing.assert_allclose(model.get_ydata(), [0.0, 1.0, 0.5, 1.0])


def test_precision_recall_reports_the_average_precision_and_the_no_skill_line() -> None:
    y = np.array([0, 0, 1, 1, 0, 1, 0, 0])
    prob = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.6, 0.3])
    ax = plots.precision_recall({"m": (y, prob)}).axes[0]
    assert f"AP {average_precision_score(y, prob):.3f}" in ax.get_legend().get_texts()[0].get_text()
    assert ax.lines[1].get_ydata()[0] == pytest.approx(3 / 8)


def test_probability_histograms_count_each_class() -> None:
    y = np.array([0, 0, 0, 1, 1])
    prob = np.array([0.01, 0.02, 0.97, 0.5, 0.99])
    fig, ax = plt.subplots()
    assert plots.probability_histograms(y, prob, threshold=0.4, ax=ax) is fig
    heights = [[p.get_height() for p in container] for container in ax.containers]
    assert heights[0][0] == 2 and heights[0][-1] == 1 and sum(heights[1]) == 2 and heights[1][-1] == 1


def test_patient_summary_gives_each_patient_its_share_and_accuracy() -> None:
    frame = pd.DataFrame({"patient": ["a", "a", "a", "b"], "label": [1, 0, 1, 0],
                          "probability": [0.9, 0.7, 0.2, 0.1]})
    summary = plots.patient_summary(frame, threshold=0.5)
    assert summary.loc["a"].tolist() == pytest.approx([3, 2 / 3, 0.6, 1 / 3])
    assert summary.loc["b"].tolist() == pytest.approx([1, 0.0, 0.1, 1.0])
    points = plots.per_patient(frame, 0.5).axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(points, [[2 / 3, 0.6], [0.0, 0.1]])


def _patches() -> tuple[pd.DataFrame, np.ndarray]:
    table = pd.DataFrame({"patient": ["p"] * 3, "x": [51, 151, 51], "y": [101, 101, 151], "label": [0, 1, 1]})
    images = np.stack([np.full((50, 50, 3), v, dtype=np.uint8) for v in (10, 20, 30)])
    return table, images


def test_slide_grid_and_mosaic_put_each_patch_at_its_x_y() -> None:
    table, images = _patches()
    grid = plots.slide_grid(table, [0.1, 0.2, 0.3])
    assert grid.shape == (2, 3)
    assert grid[0, 0] == 0.1 and grid[0, 2] == 0.2 and grid[1, 0] == 0.3
    assert np.isnan(grid[0, 1]) and np.isnan(grid[1, 2])
    mosaic = plots.slide_mosaic(images, table)
    assert mosaic.shape == (100, 150, 3)
    assert (mosaic[:50, 100:] == 20).all() and (mosaic[50:, :50] == 30).all() and (mosaic[:50, 50:100] == 255).all()


def test_slide_map_draws_tissue_label_and_probability_in_slide_coordinates() -> None:
    table, images = _patches()
    fig = plots.slide_map(table, images, probability=np.array([0.2, 0.9, 0.6]))
    titles = [ax.get_title() for ax in fig.axes[:3]]
    assert titles == ["tissue", "true label (dark: IDC)", "predicted probability"]
    assert fig.axes[2].images[0].get_extent() == [51, 201, 201, 101]
    with pytest.raises(ValueError, match="one patient"):
        plots.slide_map(table.assign(patient=["p", "q", "p"]))


def test_training_curves_compared_draws_one_line_per_model_and_metric() -> None:
    histories = {"cnn": pd.DataFrame({"val_loss": [0.7, 0.5], "val_accuracy": [0.6, 0.7]}),
                 "lstm": pd.DataFrame({"val_loss": [0.69, 0.68, 0.66], "val_accuracy": [0.5, 0.52, 0.55]})}
    fig = plots.training_curves_compared(histories)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), [0.69, 0.68, 0.66])


def test_fold_spread_orders_settings_by_mean_and_shows_every_fold() -> None:
    folds = pd.DataFrame({"setting": [0, 0, 0, 1, 1, 1], "lstm_units": ["32"] * 3 + ["128"] * 3,
                          "fold": [0, 1, 2] * 2, "roc_auc": [0.6, 0.7, 0.65, 0.8, 0.9, 0.85]})
    ax = plots.fold_spread(folds).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lstm_units=128", "lstm_units=32"]
    dots = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])
    assert sorted(dots[:, 1]) == pytest.approx(sorted(folds["roc_auc"]))


def test_show_run_adds_precision_recall_reliability_and_histograms(tmp_path) -> None:
    from bc_helpers.course.notebook import show_run

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    prob = np.clip(0.3 * y + rng.uniform(0, 0.7, 60), 0, 1)
    pd.DataFrame({"loss": [0.7, 0.6], "accuracy": [0.5, 0.6], "val_loss": [0.69, 0.65],
                  "val_accuracy": [0.5, 0.55]}).to_csv(tmp_path / "history.csv", index=False)
    pd.DataFrame({"path": [f"{i}.png" for i in range(60)], "patient": ["1"] * 30 + ["2"] * 30, "label": y,
                  "part": ["val"] * 10 + ["test"] * 50, "probability": prob}).to_csv(tmp_path / "predictions.csv")
    metrics = {"model": "cnn", "dataset": "sample", "protocol": "patient", "threshold": 0.5,
               "confusion": {"tn": 1, "fp": 2, "fn": 3, "tp": 4}}
    show_run(tmp_path, metrics)
    last = plt.figure(plt.get_fignums()[-1])
    assert [ax.get_title() for ax in last.axes] == [
        "precision-recall (test)", "reliability (test, 10 bins)", "P(positive) by true class (test)"]
    counts = [float(t.get_text()) for t in last.axes[1].texts]
    assert sum(counts) == 50  # the test part only


def _density_result(patches: float, random_image: float, inflation: float) -> dict:
    def score(v: float) -> dict:
        return {"estimate": v, "ci": [v - 0.1, v + 0.05]}

    return {"patches_per_patient": patches,
            "arms": {"cnn_random_image": {"roc_auc": score(random_image)},
                     "cnn_random_patient": {"roc_auc": score(0.5)}},
            "differences": {"cnn_image - cnn_patient": {"roc_auc": score(inflation)}}}


def test_leak_density_draws_each_density_in_order_with_its_interval() -> None:
    fig = leakplots.leak_density({"400": _density_result(400.0, 0.8, 0.2), "25": _density_result(25.0, 0.55, 0.01)})
    left, right = fig.axes
    image = [c for c in left.containers if c.get_label() == "image split"][0][0]
    np.testing.assert_allclose(image.get_xdata(), [25, 400])
    np.testing.assert_allclose(image.get_ydata(), [0.55, 0.8])
    caps = np.sort(np.concatenate([c.get_ydata() for c in right.containers[0][1]]))
    np.testing.assert_allclose(caps, [-0.09, 0.06, 0.1, 0.25])  # each inflation's interval, [v - 0.1, v + 0.05]
    assert left.get_xscale() == "log"


def test_metrics_view_names_metrics_in_words_and_marks_missing_values() -> None:
    from bc_helpers.course.notebook import HEADLINE, metrics_view

    metrics = {name: 0.5 for name in HEADLINE} | {"ci": {"roc_auc": (0.4, 0.6)},
                                                  "patient_level": {name: float("nan") for name in HEADLINE}}
    html = metrics_view(metrics).to_html()
    assert "ROC-AUC" in html and "balanced accuracy" in html and "roc_auc" not in html
    assert "[0.400, 0.600]" in html and "–" in html and "nan" not in html.lower()
