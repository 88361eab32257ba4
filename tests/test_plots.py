import pytest
import torch

from lib import plots
from lib.pruning.sweep_results import accuracy_by_level, records_to_rows

LAYERS = ["conv1", "conv2", "conv3"]
LEVELS = [0.1, 0.5, 0.9]
RESULTS = {"baseline": {"accuracy": 90.0, "loss": 0.3},
           "records": [{"layer": name, "level": s, "accuracy": 90.0 - 10 * k * s, "loss": 0.3 + s}
                       for k, name in enumerate(LAYERS) for s in LEVELS]}


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions save, kept for inspection."""
    saved = []
    real = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: (saved.append(fig), real(fig, path)))
    return saved


def assert_png(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rows():
    rows = records_to_rows(RESULTS)
    assert len(rows) == 9 and rows[-1]["drop"] == pytest.approx(18.0)
    wide = accuracy_by_level(RESULTS)
    assert [r["level"] for r in wide] == LEVELS
    assert wide[2] == {"level": 0.9, "conv1": 90.0, "conv2": 81.0, "conv3": 72.0}


def test_sensitivity_lines(tmp_path, figures):
    plots.sensitivity_lines(RESULTS, tmp_path / "lines.png", xlabel="sparsity")
    assert_png(tmp_path / "lines.png")
    (ax,) = figures[0].axes
    assert len(ax.lines) == len(LAYERS) + 1  # one per layer + the dashed baseline
    assert [t.get_text() for t in ax.get_legend().get_texts()] == LAYERS + ["unpruned"]
    assert ax.get_xlabel() == "sparsity"


def test_sensitivity_heatmap(tmp_path, figures):
    plots.sensitivity_heatmap(RESULTS, tmp_path / "heatmap.png")
    assert_png(tmp_path / "heatmap.png")
    ax = figures[0].axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == LAYERS
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.1", "0.5", "0.9"]
    assert sorted(float(t.get_text()) for t in ax.texts) == sorted(r["drop"] for r in records_to_rows(RESULTS))
    assert len(figures[0].axes) == 2  # heatmap + colour bar


def test_weight_histograms(tmp_path, figures):
    before = torch.randn(64, 3, 3, 3)
    after = before * (before.abs() > 0.5)
    plots.weight_histograms(before, after, tmp_path / "hist.png", "conv1")
    assert_png(tmp_path / "hist.png")
    axes = figures[0].axes
    assert len(axes) == 2
    zeros = int((after == 0).sum())
    assert any(f"exact zeros: {zeros}" in t.get_text() for t in axes[1].get_legend().get_texts())
    assert any("exact zeros: 0 " in t.get_text() for t in axes[0].get_legend().get_texts())


def test_filter_norms_figure(tmp_path, figures):
    weight = torch.randn(16, 8, 3, 3, requires_grad=True)
    norms = weight.detach().abs().sum(dim=(1, 2, 3))
    removed = norms.argsort()[:6].tolist()
    kept = sorted(set(range(16)) - set(removed))
    plots.filter_norms_figure(norms, removed, weight, weight[kept], tmp_path / "norms.png", "conv5")
    assert_png(tmp_path / "norms.png")
    left, right = figures[0].axes
    bars = [p for p in left.patches if p.get_width() > 0]
    assert len(bars) == 16
    red = [b for b in bars if b.get_facecolor() == bars[0].get_facecolor()]
    assert len(red) == 6  # the lowest (first in sorted order) are the removed ones
    assert "conv5" in left.get_title() and len(right.get_legend().get_texts()) == 2


def tradeoff(panels, lines=(("original", 86.0, 0.0), ("dense_extra", 86.5, 0.0)), chance=None):
    return plots.Tradeoff("t", list(panels), list(lines), chance)


def labelled(ax, style=None):
    """The axes' lines that carry a legend label (not error bars' parts), of one line style if given."""
    return [line for line in ax.lines if not line.get_label().startswith("_")
            and (style is None or line.get_linestyle() == style)]


def test_tradeoff_figure(tmp_path, figures):
    curves = {"global": [(0.5, 80.0, 0.0), (0.9, 60.0, 0.0)], "uniform": [(0.5, 79.0, 0.0)], "sensitivity": []}
    plots.tradeoff_figure(tradeoff([plots.Panel("sparsity", curves, [plots.Point("variant", 0.9, 85.0)])]),
                          tmp_path / "curve.png")
    assert_png(tmp_path / "curve.png")
    full, zoom = figures[0].axes  # the whole range above, zoomed below
    assert [line.get_ydata().tolist() for line in full.lines[:2]] == [[80.0, 60.0], [79.0]]  # no sensitivity line
    assert [t.get_text() for t in figures[0].legends[0].get_texts()] == [
        "global, one-shot", "uniform, one-shot", "original (86.00%)", "dense_extra (86.50%)", "variant (85.00%)"]
    assert full.get_xlabel() == zoom.get_xlabel() == "sparsity" and full.get_ylim() == (0, 100)


def test_the_tradeoff_figure_has_a_zoomed_panel_per_axis_with_error_bars(tmp_path, figures):
    """Two axes (panels), each drawn whole and zoomed: per panel the curves (a band where the seeds
    spread), the dense lines, chance and one error bar per point; the zoom covers every point it should
    and the dense lines, each ± sd, and leaves out chance and the one-shot point far below them."""
    curves = {"a": [(0.2, 84.0, 0.5), (0.5, 70.0, 2.0), (0.8, 30.0, 4.0)], "b": [(0.2, 83.0, 0.4), (0.5, 60.0, 3.0)]}
    points = [plots.Point("trained", 0.5, 85.0, 0.3), plots.Point("control", 0.5, 84.0, 0.6),
              plots.Point("one-shot", 0.5, 55.0, 1.0, zoom=False)]
    panels = [plots.Panel("MACs removed", curves, points), plots.Panel("params removed", curves, points)]
    lines = [("original", 86.0, 0.2), ("dense_extra", 86.4, 0.1)]
    fig = plots.tradeoff_figure(tradeoff(panels, lines, chance=10.0), tmp_path / "t.png")
    assert fig is figures[0] and len(fig.axes) == 4
    for ax in fig.axes:
        assert len(labelled(ax)) == 2 + 2 + 1  # two curves, two dense lines, chance
        assert len(ax.containers) == 3  # one error bar per point
        assert [c.has_yerr for c in ax.containers] == [True, True, True]
        assert len(ax.collections) >= 2  # the curves' bands of ± sd
    top, bottom = fig.axes[0].get_ylim(), fig.axes[2].get_ylim()
    assert top == (0, 100)
    low, high = bottom
    assert low <= 84.0 - 0.6 and high >= 86.4 + 0.1 and high <= 100
    assert low > 55.0 + 1.0 and low > 10.0  # neither the one-shot point nor chance
    assert high - low < 10
    assert [t.get_text() for t in fig.legends[0].get_texts()][-3:] == [
        "trained (85.00 ± 0.30%)", "control (84.00 ± 0.60%)", "one-shot (55.00 ± 1.00%)"]
    zoomed = [c[0].get_xdata()[0] for c in fig.axes[2].containers]
    assert zoomed[0] < 0.5 < zoomed[1] and zoomed[2] == 0.5  # side by side in the zoom, where it covers them
    assert [c[0].get_xdata()[0] for c in fig.axes[0].containers] == [0.5, 0.5, 0.5]


def test_one_seed_draws_no_error_bars_and_before_recalibration_curves_dashed(tmp_path, figures):
    curves = {"global": [(0.5, 84.0, 0.0), (0.9, 70.0, 0.0)], "lamp": [(0.5, 85.0, 0.0)]}
    stale = {"global": [(0.5, 40.0, 0.0), (0.9, 12.0, 0.0)]}
    panel = plots.Panel("sparsity", curves, [plots.Point("variant", 0.9, 85.0)], stale)
    fig = plots.tradeoff_figure(tradeoff([panel], chance=10.0), tmp_path / "t.png")
    for ax in fig.axes:
        (dashed,) = [line for line in labelled(ax) if "before BN recalibration" in line.get_label()]
        solid = next(line for line in labelled(ax) if line.get_label() == "global, one-shot")
        assert dashed.get_linestyle() == "--" and solid.get_linestyle() == "-"
        assert dashed.get_color() == solid.get_color() and dashed.get_ydata().tolist() == [40.0, 12.0]
        assert len(ax.collections) == 0  # no spread, no band
        (bar,) = ax.containers
        assert not bar.has_yerr
    assert "global, one-shot, before BN recalibration" in [t.get_text() for t in fig.legends[0].get_texts()]
    assert fig.axes[1].get_ylim()[0] > 40.0


def test_the_zoom_covers_what_it_must(tmp_path):
    points = [plots.Point("a", 0.1, 90.0, 1.0), plots.Point("b", 0.1, 20.0, 1.0, zoom=False)]
    low, high = plots.zoom_range(points, [("dense", 91.0, 0.5)])
    assert 80 < low <= 89.0 and 91.5 <= high <= 100
    assert plots.zoom_range([plots.Point("c", 0.1, 99.9)], []) == (99.4, 100.0)  # half a point, within 100
    assert plots.zoom_range([], []) == (0.0, 100.0)


def test_the_stage_draws_one_seeds_tradeoffs(tmp_path, figures):
    """Stage figures' trade-offs from a trade-off stage's files: the curves at the reductions reached, the
    accuracies before recalibration dashed, the variants and controls as points without error bars, the
    one-shot structured variant outside the zoom."""
    import argparse
    import json
    from stages import figures as stage
    write = {"u_rows": [{"target": 0.5, "global": 84.0, "global_before_recalibration": 50.0, "uniform": 80.0},
                        {"target": 0.9, "global": 30.0, "global_before_recalibration": 10.0}],
             "u_spec": {"methods": ["global", "uniform"], "xlabel": "sparsity", "title": "U"},
             "s_rows": [{"target": 0.5, "uniform_achieved": 0.52, "uniform": 70.0}],
             "s_spec": {"methods": ["uniform"], "kind": "macs", "xlabel": "MACs removed", "title": "S"},
             "chosen": {"allocation": "global", "schedule": "gradual"}}
    for name, data in write.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    args = argparse.Namespace(chosen=tmp_path / "chosen.json", **{
        f"{family}_curves{part}": tmp_path / f"{family[0]}_{kind}.json" for family in ("unstructured", "structured")
        for part, kind in (("", "rows"), ("_data", "spec"))})
    variants = ["original", "dense_extra", "unstructured", "unstructured_random", "structured", "structured_finetuned",
                "structured_random", "scratch"]
    ev = {v: {"test_accuracy": 85.0 - i, "conv_sparsity": 0.9 if "unstructured" in v else 0.0,
              "macs": 40 if i > 1 else 100} for i, v in enumerate(variants)}
    ev["structured"]["test_accuracy"] = 40.0
    stage.tradeoffs(args, ev, {"unstructured_tradeoff": tmp_path / "u.png", "structured_tradeoff": tmp_path / "s.png"},
                    10)
    unstructured, structured = figures
    full, zoom = unstructured.axes
    assert [line.get_ydata().tolist() for line in labelled(full, "--")[:1]] == [[50.0, 10.0]]
    assert [line.get_xdata().tolist() for line in labelled(full, "-")[:2]] == [[0.5, 0.9], [0.5]]
    assert [c.has_yerr for c in full.containers] == [False, False]
    assert "global, gradual + fine-tune (the variant) (83.00%)" in [t.get_text() for t in unstructured.legends[0].texts]
    full, zoom = structured.axes
    assert labelled(full, "-")[0].get_xdata().tolist() == [0.52]  # the reduction reached
    assert [c[0].get_xdata()[0] for c in full.containers][0] == pytest.approx(0.6)
    assert zoom.get_ylim()[0] > 40.0 and zoom.get_ylim()[1] >= 85.0
    assert full.get_title() == "whole range" and structured.get_suptitle() == "S"
