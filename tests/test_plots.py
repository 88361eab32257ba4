import pytest
import torch

from lib import plots
from lib.pruning.sensitivity import accuracy_by_level, records_to_rows

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


def test_tradeoff_figure(tmp_path, figures):
    rows = [{"target": 0.5, "global": 80.0, "uniform": 79.0}, {"target": 0.9, "global": 60.0}]
    plots.tradeoff_figure(rows, ["global", "uniform", "sensitivity"], [("variant", 0.9, 85.0)],
                          [("original", 86.0), ("dense_extra", 86.5)], tmp_path / "curve.png", "sparsity", "t")
    assert_png(tmp_path / "curve.png")
    (ax,) = figures[0].axes
    assert [line.get_ydata().tolist() for line in ax.lines[:2]] == [[80.0, 60.0], [79.0]]  # no sensitivity line
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "global, one-shot", "uniform, one-shot", "original (86.00%)", "dense_extra (86.50%)", "variant (85.00%)"]
