"""Figures (PNG, matplotlib/seaborn, written atomically), drawn from the data the stages write (the stage
figures draws them; compare draws its own).

Sweep results are those of lib.pruning.sensitivity: {"baseline": {"accuracy", "loss"},
"records": [{"layer", "level", "accuracy", "loss"}, ...]}; accuracies in percent.
"""
import dataclasses

import numpy as np
import seaborn as sns
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from lib.io import save_figure
from lib.pruning.sweep_results import layers_and_levels, records_to_rows

CORRECT, WRONG = "#1a7f37", "#cf222e"  # Grad-CAM title colours: green / red
TRADEOFF_POINTS = {  # per family: the variants and controls drawn beside its curves (registry names), their labels
    "unstructured": {"unstructured": "{allocation}, {schedule} + fine-tune (the variant)",
                     "unstructured_random": "random weights at its levels (control)"},
    "structured": {"structured": "structured variant, one-shot",
                   "structured_finetuned": "structured variant + fine-tune",
                   "structured_random": "random filters at its counts + fine-tune (control)",
                   "scratch": "its architecture from scratch (control)"}}
ONE_SHOT = ("structured",)  # points a trade-off figure's zoomed panel need not cover: pruned, not trained


def _flat(values):
    """A float64 numpy vector from a tensor (any device, with or without grad) or an array."""
    values = values.detach().cpu() if hasattr(values, "detach") else values
    return np.asarray(values, dtype=np.float64).ravel()


def sensitivity_lines(results, path, xlabel="sparsity", title="Per-layer pruning sensitivity"):
    """Accuracy against level, one line per layer, the unpruned accuracy dashed."""
    layers, _ = layers_and_levels(results)
    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    for name in layers:
        points = sorted((r["level"], r["accuracy"]) for r in results["records"] if r["layer"] == name)
        ax.plot(*zip(*points), marker="o", label=name)
    ax.axhline(results["baseline"]["accuracy"], color="black", linestyle="--", label="unpruned")
    ax.set(xlabel=xlabel, ylabel="validation accuracy (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(ncol=2, fontsize="small")
    save_figure(fig, path)


def weight_histograms(before, after, path, title):
    """Histograms of one layer's weights before and after pruning: the nonzero weights as bars,
    the exact zeros as a separate red bar at 0 with their count (log scale so both show)."""
    before, after = _flat(before), _flat(after)
    bins = np.linspace(before.min(), before.max(), 81)
    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    for ax, w, label in zip(axes, (before, after), ("before pruning", "after pruning")):
        zeros = int((w == 0).sum())
        ax.hist(w[w != 0], bins=bins, color="tab:blue", label="nonzero weights")
        ax.bar(0, zeros, width=bins[1] - bins[0], color="tab:red",
               label=f"exact zeros: {zeros} ({100 * zeros / w.size:.1f}%)")
        ax.set(title=label, xlabel="weight value", yscale="log")
        ax.legend(fontsize="small")
    axes[0].set_ylabel("count")
    fig.suptitle(title)
    save_figure(fig, path)


def sensitivity_heatmap(results, path, xlabel="fraction of filters removed",
                        title="Accuracy drop (points) per layer and pruning level"):
    """Layers x levels, colour and annotation = accuracy drop in points from the baseline."""
    layers, levels = layers_and_levels(results)
    drop = {(r["layer"], r["level"]): r["drop"] for r in records_to_rows(results)}
    table = np.array([[drop.get((name, s), np.nan) for s in levels] for name in layers])
    fig = Figure(figsize=(1.0 * len(levels) + 2, 0.5 * len(layers) + 1.5))
    ax = fig.subplots()
    sns.heatmap(table, ax=ax, annot=True, fmt=".1f", cmap="RdBu_r", center=0,
                xticklabels=[f"{s:g}" for s in levels], yticklabels=layers,
                cbar_kws={"label": "accuracy drop (points)"})
    ax.set(xlabel=xlabel, ylabel="layer", title=title)
    ax.tick_params(axis="y", labelrotation=0)
    save_figure(fig, path)


def filter_norms_figure(norms, removed_indices, before_weights, after_weights, path, layer):
    """Left: the layer's filter L1 norms sorted, the removed ones in red. Right: the distribution of
    its weights before and after removing those filters."""
    norms = _flat(norms)
    removed = np.zeros(len(norms), dtype=bool)
    removed[list(removed_indices)] = True
    order = np.argsort(norms, kind="stable")
    fig = Figure(figsize=(12, 4))
    left, right = fig.subplots(1, 2)
    left.bar(np.arange(len(norms)), norms[order], width=1.0,
             color=np.where(removed[order], "tab:red", "tab:blue"))
    left.set(xlabel="filter (sorted by L1 norm)", ylabel="L1 norm", title=f"{layer}: filter L1 norms")
    left.legend(handles=[Patch(color="tab:red", label=f"removed ({removed.sum()})"),
                         Patch(color="tab:blue", label=f"kept ({(~removed).sum()})")])
    before, after = _flat(before_weights), _flat(after_weights)
    bins = np.linspace(before.min(), before.max(), 81)
    right.hist(before, bins=bins, alpha=0.5, label=f"before ({before.size} weights)")
    right.hist(after, bins=bins, alpha=0.5, label=f"after ({after.size} weights)")
    right.set(xlabel="weight value", ylabel="count", title=f"{layer}: weights before / after removal")
    right.tick_params(axis="x", labelrotation=30)
    right.legend()
    save_figure(fig, path)


@dataclasses.dataclass(frozen=True)
class Point:
    """A trained model drawn beside the curves: its legend label, its position on the panel's axis, its
    test accuracy (mean, and sd over seeds: 0 for one seed); `zoom`: whether the zoomed panel's range
    must cover it (False for a model the range need not show, such as a one-shot pruned one)."""
    label: str
    x: float
    mean: float
    sd: float = 0.0
    zoom: bool = True


@dataclasses.dataclass(frozen=True)
class Panel:
    """One compression axis of a trade-off figure: its label, the one-shot curves {allocation: [(x,
    accuracy mean, sd)]}, the `points` (Point) and, optionally, the same allocations' curves scored
    before batch-norm recalibration (`stale`, drawn dashed in their allocation's colour)."""
    xlabel: str
    curves: dict
    points: list
    stale: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Tradeoff:
    """A trade-off figure: its title, its panels (Panel, one column each), the dense models drawn as
    horizontal lines in every panel [(label, accuracy mean, sd)], and the chance level (None: not drawn)."""
    title: str
    panels: list
    lines: list
    chance: float = None


def tradeoff_labels(family, chosen):
    """{variant: legend label} of the family's points; `chosen` is the unstructured prune's report
    ({"allocation", "schedule", ...}), which names the unstructured variant."""
    return {v: label.format(**chosen) for v, label in TRADEOFF_POINTS[family].items()}


def _accuracy(label, mean, sd):
    return f"{label} ({mean:.2f}%)" if not sd else f"{label} ({mean:.2f} ± {sd:.2f}%)"


def _curves(ax, panel):
    """The panel's one-shot curves (mean, with a band of ± sd where there is spread), and each one's
    stale-statistics curve dashed in its colour."""
    colours = {name: f"C{i}" for i, name in enumerate(dict.fromkeys([*panel.curves, *panel.stale]))}
    for name, xms in panel.curves.items():
        if xms:
            x, mean, sd = (np.array(v, dtype=float) for v in zip(*xms))
            ax.plot(x, mean, marker="o", color=colours[name], label=f"{name}, one-shot")
            if sd.any():
                ax.fill_between(x, mean - sd, mean + sd, color=colours[name], alpha=0.2, linewidth=0)
        if panel.stale.get(name):
            x, mean, _ = zip(*panel.stale[name])
            ax.plot(x, mean, linestyle="--", marker="o", markerfacecolor="none", color=colours[name],
                    label=f"{name}, one-shot, before BN recalibration")


def _lines(ax, data):
    """The dense models as horizontal lines (a band of ± sd where there is spread), chance dotted."""
    for (label, mean, sd), colour, style in zip(data.lines, ("black", "tab:purple", "tab:brown"), ("-", "--", "-.")):
        ax.axhline(mean, color=colour, linestyle=style, linewidth=1.2, label=_accuracy(label, mean, sd))
        if sd:
            ax.axhspan(mean - sd, mean + sd, color=colour, alpha=0.08, linewidth=0)
    if data.chance is not None:
        ax.axhline(data.chance, color="grey", linestyle=":", linewidth=1.2, label=f"chance ({data.chance:.0f}%)")


def _points(ax, panel, xs):
    """The panel's points at positions `xs`, their sd as error bars (one ErrorbarContainer each)."""
    for k, (p, x) in enumerate(zip(panel.points, xs)):
        ax.errorbar(x, p.mean, yerr=p.sd or None, fmt="*Dsp^v"[k % 6], markersize=11, capsize=5, zorder=3,
                    color=f"C{len(panel.curves) + k}", label=_accuracy(p.label, p.mean, p.sd))


def dodged(panel, width=0.012):
    """The x of each of the panel's points, those the zoom covers that share one position spread side by
    side around it, `width` of the panel's x-span apart (a model and its same-architecture controls sit at
    one position; apart, their error bars do not hide each other)."""
    xs = [p.x for p in panel.points]
    span = [x for xms in panel.curves.values() for x, _, _ in xms] + xs
    step = width * (max(span) - min(span)) if span else 0.0
    groups = {}
    for k, p in enumerate(panel.points):
        if p.zoom:
            groups.setdefault(round(p.x, 9), []).append(k)
    for members in groups.values():
        for j, k in enumerate(members):
            xs[k] += step * (j - (len(members) - 1) / 2)
    return xs


def zoom_range(points, lines, margin=0.1):
    """The zoomed panel's y-limits: every point that asks for it (Point.zoom) and every dense line, each
    ± its sd, with `margin` of that span (at least half a point) on both sides, within [0, 100]."""
    ends = [p.mean + side * p.sd for p in points if p.zoom for side in (-1, 1)]
    ends += [mean + side * sd for _, mean, sd in lines for side in (-1, 1)]
    if not ends:
        return 0.0, 100.0
    pad = max(margin * (max(ends) - min(ends)), 0.5)
    return max(0.0, min(ends) - pad), min(100.0, max(ends) + pad)


def tradeoff_figure(data, path):
    """A trade-off figure (Tradeoff) -> `path` (PNG); returns the figure. Per panel, one column: above, test
    accuracy against compression over the whole range (0-100 %, chance marked); below, the same zoomed on
    the trained models and the dense lines (zoom_range; the curves clipped to it; points at one position
    side by side, dodged). One legend for all."""
    fig = Figure(figsize=(7.5 * len(data.panels), 10.5), layout="constrained")
    grid = fig.subplots(2, len(data.panels), squeeze=False, sharex="col")
    for column, panel in enumerate(data.panels):
        for row, ax in enumerate(grid[:, column]):
            _curves(ax, panel)
            _lines(ax, data)
            _points(ax, panel, dodged(panel) if row else [p.x for p in panel.points])
            ax.set(xlabel=panel.xlabel, ylabel="test accuracy (%)",
                   ylim=zoom_range(panel.points, data.lines) if row else (0, 100),
                   title="zoomed on the trained models and the dense ones" if row else "whole range")
            ax.grid(alpha=0.3)
    fig.legend(*grid[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=2 * len(data.panels),
               fontsize="small")
    fig.suptitle(data.title)
    save_figure(fig, path)
    return fig


def grad_cam_figure(data, path, dpi=100):
    """The gradcam stage's figure data ({"images", "labels", "classes", "method", "layer", "columns": [{"title",
    "cams", "predictions", "confidences"}]}) as a grid saved atomically to `path` (PNG); returns the figure.
    One row per image: the image, then per column its map over the image, each shown pixel for pixel
    (nearest, no smoothing: a 4x4 map shows as 4x4 blocks), one colour scale for all (the colour bar), each
    titled with the predicted class and confidence (green right, red wrong)."""
    images, labels = data["images"].permute(0, 2, 3, 1).numpy(), torch.as_tensor(data["labels"]).tolist()
    classes, columns = data["classes"], data["columns"]
    rows, side = len(images), images.shape[1]
    size = columns[0]["cams"].shape[-1]
    fig = Figure(figsize=(1.7 * (1 + len(columns)) + 0.8, 1.95 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, 1 + len(columns), squeeze=False)
    for r in range(rows):
        axes[r, 0].imshow(images[r], interpolation="nearest")
        axes[r, 0].set_title(f"image\ntrue: {classes[labels[r]]}", fontsize=9)
        for c, column in enumerate(columns, start=1):
            axes[r, c].imshow(images[r], interpolation="nearest")
            shown = axes[r, c].imshow(column["cams"][r].numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1,
                                      interpolation="nearest", extent=(-0.5, side - 0.5, side - 0.5, -0.5))
            pred = int(column["predictions"][r])
            axes[r, c].set_title(f"{column['title']}\n{classes[pred]} ({100 * float(column['confidences'][r]):.0f}%)",
                                 fontsize=9, color=CORRECT if pred == labels[r] else WRONG)
    for ax in axes.flat:
        ax.set_axis_off()
    fig.colorbar(shown, ax=axes, shrink=0.3, label="map value (each map scaled to [0, 1])")
    fig.suptitle(f"{data['method']} at {data['layer']}: {size}x{size} maps on {side}x{side} images "
                 "(green: right prediction, red: wrong)")
    save_figure(fig, path, dpi=dpi)
    return fig
