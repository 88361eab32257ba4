"""tools.result_figures: the trade-off figures' data and tables over a run's seeds, on synthetic records
(two seeds, known means and sds) and on the committed run."""
import statistics

import pytest

from conftest import ROOT
from lib import plots
from lib.variants import VARIANTS
from tools import result_figures, results

ACCURACY = {"original": 86.0, "dense_extra": 86.5, "unstructured": 85.0, "unstructured_random": 83.0}


def seed(k):
    """One seed's records of the unstructured family: the curves (global with its accuracies before batch-norm
    recalibration, lamp without), the evaluations (accuracy + k), the chosen levels' report."""
    rows = [{"target": 0.5, "global": 80.0 + k, "global_before_recalibration": 50.0 + 2 * k, "lamp": 81.0},
            {"target": 0.9, "global": 20.0 + k, "global_before_recalibration": 10.0, "lamp": 30.0 - k}]
    evals = {f"reports/eval/{VARIANTS[v]['evaluation']}.json": {"test_accuracy": a + k, "conv_sparsity": 0.9}
             for v, a in ACCURACY.items()}
    return {"reports/plots/unstructured_tradeoff.json": rows, "reports/data.json": {"classes": list("abcdefghij")},
            "reports/unstructured_sparsities.json": {"allocation": "global", "schedule": "gradual"},
            "params.yaml": {"structured_prune": {"target_kind": "macs"}}, **evals}


PER_SEED = {0: seed(0), 1: seed(1)}
SD = statistics.stdev([0.0, 1.0])


def test_before_recalibration_is_a_curve_of_its_own_not_an_allocation():
    after = result_figures.curves(PER_SEED, "unstructured")
    assert list(after) == ["global", "lamp"]
    assert after["global"] == [(0.5, {"conv_sparsity": 0.5}, 80.5, pytest.approx(SD)),
                               (0.9, {"conv_sparsity": 0.9}, 20.5, pytest.approx(SD))]
    before = result_figures.curves(PER_SEED, "unstructured", result_figures.STALE)
    assert before["lamp"] == [] and [(t, m) for t, _, m, _ in before["global"]] == [(0.5, 51.0), (0.9, 10.0)]


def test_the_figure_data_over_seeds():
    data = result_figures.tradeoff_data(PER_SEED, "unstructured", "r")
    (panel,) = data.panels
    assert panel.curves["lamp"] == [(0.5, 81.0, 0.0), (0.9, 29.5, pytest.approx(SD))]
    assert list(panel.stale) == ["global"] and panel.stale["global"][0] == (0.5, 51.0, pytest.approx(2 * SD))
    assert [(p.x, p.mean, p.zoom) for p in panel.points] == [(0.9, 85.5, True), (0.9, 83.5, True)]
    assert all(p.sd == pytest.approx(SD) for p in panel.points)
    assert "global, gradual" in panel.points[0].label
    assert [(label, m) for label, m, _ in data.lines] == [("original", 86.5), ("dense_extra", 87.0)]
    assert data.chance == 10.0 and "run r" in data.title and "over 2 seeds" in data.title


def test_the_table_shows_before_recalibration_beside_its_allocation():
    lines = result_figures.tradeoff_table(PER_SEED, "unstructured")
    assert lines[0] == "| conv sparsity | global | global (stale BN) | lamp |"
    assert lines[2] == f"| 0.50 | 80.50 ± {SD:.2f} | 51.00 ± {2 * SD:.2f} | 81.00 ± 0.00 |"
    assert "stale BN" in lines[-1] and "before its batch-norm recalibration" in lines[-1]
    one = result_figures.tradeoff_table({0: seed(0)}, "unstructured")
    assert one[2] == "| 0.50 | 80.00 | 50.00 | 81.00 |"


def test_the_committed_runs_structured_figure(tmp_path):
    """Two axes (MACs, parameters), each whole and zoomed; the zoom on the trained models leaves out chance
    and the one-shot structured variant."""
    _, per_seed = results.load(f"{ROOT}/{results.RESULTS}/{results.RUN}")
    data = result_figures.tradeoff_data(per_seed, "structured", results.RUN)
    assert [p.xlabel for p in data.panels] == list(result_figures.AXES["structured"].values())
    one_shot = [p for p in data.panels[0].points if not p.zoom]
    assert len(one_shot) == 1 and "one-shot" in one_shot[0].label
    fig = plots.tradeoff_figure(data, tmp_path / "s.png")
    assert len(fig.axes) == 4 and all(len(ax.containers) == 4 for ax in fig.axes)
    for zoom in fig.axes[2:]:
        low, high = zoom.get_ylim()
        assert low > max(data.chance, one_shot[0].mean) and high < 100
        assert all(low <= p.mean - p.sd and p.mean + p.sd <= high for p in data.panels[0].points if p.zoom)
