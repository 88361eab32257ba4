"""Figures (PNG, matplotlib/seaborn, written atomically), drawn from the data the stages write (the stage
figures draws them; compare draws its own).

Sweep results are those of lib.pruning.sensitivity: {"baseline": {"accuracy", "loss"},
"records": [{"layer", "level", "accuracy", "loss"}, ...]}; accuracies in percent.
"""
import numpy as np
import seaborn as sns
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from lib.io import save_figure
from lib.pruning.sensitivity import layers_and_levels, records_to_rows

CORRECT, WRONG = "#1a7f37", "#cf222e"  # Grad-CAM title colours: green / red


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


def tradeoff_figure(rows, allocations, points, lines, path, xlabel, title):
    """Test accuracy against the compression target, one line per allocation (rows {"target": t,
    <allocation>: accuracy} as the trade-off stages write them), with reference `points` [(label, x,
    accuracy)] (pruned and fine-tuned variants, controls of another architecture) and horizontal
    `lines` [(label, accuracy)] (dense models)."""
    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    for name in allocations:
        xy = [(r["target"], r[name]) for r in rows if name in r]
        if xy:
            ax.plot(*zip(*xy), marker="o", label=f"{name}, one-shot")
    for (label, accuracy), style in zip(lines, ("--", ":", "-.")):
        ax.axhline(accuracy, color="black", linestyle=style, label=f"{label} ({accuracy:.2f}%)")
    for (label, x, accuracy), marker in zip(points, "*Dsp^v"):
        ax.scatter(x, accuracy, s=140, marker=marker, zorder=3, label=f"{label} ({accuracy:.2f}%)")
    ax.set(xlabel=xlabel, ylabel="test accuracy (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    save_figure(fig, path)


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
