"""The documentation's trade-off figures and tables, drawn by `make results` from a run's records over
all its seeds: each family's one-shot curves (every allocation: mean over seeds, a band of ± sd), its
pruned variants and their controls (mean ± sd), the dense models as lines, chance level marked; the
structured curves against the MACs and against the parameters removed. Each title names the run."""
import statistics

from matplotlib.figure import Figure

from lib import models, seeds
from lib.errors import UserError
from lib.report import table
from lib.pruning import allocation, structured_allocation
from lib.variants import VARIANTS

AXES = {"unstructured": {"conv_sparsity": "fraction of the conv weights zeroed"},
        "structured": {"macs": "fraction of the baseline's MACs removed",
                       "params": "fraction of the baseline's parameters removed"}}
POINTS = {  # per family: the variants and controls drawn beside the curves, by registry name
    "unstructured": {"unstructured": "unstructured variant (gradual, fine-tuned)",
                     "unstructured_random": "random weights at its sparsities (control)"},
    "structured": {"structured": "structured variant, one-shot",
                   "structured_finetuned": "structured variant + fine-tune",
                   "structured_random": "random filters at its counts + fine-tune (control)",
                   "scratch": "its architecture from scratch (control)"}}


def mean_sd(values):
    """(mean, sample sd; 0 for one value) of `values`, as lib.seeds describes them."""
    d = seeds.describe(list(values))
    return d["mean"], d["sd"] or 0.0


def structured_reductions(records, rows):
    """[{allocation: {"macs": r, "params": r}}] per row of one seed's structured curve: each point's filter
    counts recomputed with the pipeline's own allocator from the seed's params and sensitivity sweep.
    The curve records only the reduction of its target kind; the recomputation must reproduce it."""
    p, sweep = records["params.yaml"], records["reports/structured_sensitivity_results.json"]
    convs = list(dict.fromkeys(r["layer"] for r in sweep["records"]))
    arch = models.architecture(p["model"]["arch"], p["model"]["head"], len(records["reports/data.json"]["classes"]),
                               models.scaled_filters(p["model"]["width"]))
    kind, round_to = p["structured_prune"]["target_kind"], p["structured_prune"]["round_to"]
    curves = allocation.curves(sweep, convs)
    out = []
    for row in rows:
        point = {}
        for name in [k for k in row if f"{k}_achieved" in row]:
            ratios = structured_allocation.allocate(name, row["target"], kind, arch, curves, round_to)
            point[name] = structured_allocation.removed(arch, round_to, ratios)
            if abs(point[name][kind] - row[f"{name}_achieved"]) > 1e-9:
                raise UserError(f"the structured curve's {name} point at {row['target']} removed "
                                f"{row[name + '_achieved']:.6f} of the {kind}, the allocator recomputes "
                                f"{point[name][kind]:.6f}: the records do not come from this code")
        out.append(point)
    return out


def curves(per_seed, family):
    """{allocation: [(target, {axis: mean position}, accuracy mean, accuracy sd)]} over the seeds, one
    entry per target every seed reached with that allocation."""
    tables = [r[f"reports/plots/{family}_tradeoff.json"] for r in per_seed.values()]
    where = [structured_reductions(r, t) if family == "structured" else
             [{k: {"conv_sparsity": row["target"]} for k in row if k != "target"} for row in t]
             for r, t in zip(per_seed.values(), tables)]
    names = list(dict.fromkeys(k for t in tables for row in t for k in row
                               if k != "target" and not k.endswith("_achieved")))
    out = {}
    for name in names:
        out[name] = []
        for i, target in enumerate(row["target"] for row in tables[0]):
            if all(i < len(t) and t[i]["target"] == target and name in t[i] for t in tables):
                acc = mean_sd(t[i][name] for t in tables)
                at = {axis: statistics.mean(w[i][name][axis] for w in where) for axis in AXES[family]}
                out[name].append((target, at, *acc))
    return out


def evaluations(per_seed, variant):
    return [r[f"reports/eval/{VARIANTS[variant]['evaluation']}.json"] for r in per_seed.values()]


def tradeoff_figure(per_seed, family, run_name, path):
    """The family's trade-off figure over the seeds (one panel per axis) -> `path` (PNG)."""
    from lib.io import save_figure
    axes_of = AXES[family]
    fig = Figure(figsize=(7.5 * len(axes_of), 6.2), layout="constrained")
    panels = fig.subplots(1, len(axes_of), squeeze=False)[0]
    lines = curves(per_seed, family)
    n = len(per_seed)
    chance = 100 / len(next(iter(per_seed.values()))["reports/data.json"]["classes"])
    for ax, (axis, label) in zip(panels, axes_of.items()):
        for colour, (name, points) in enumerate(lines.items()):
            x = [at[axis] for _, at, _, _ in points]
            mean, sd = [m for *_, m, _ in points], [s for *_, s in points]
            ax.plot(x, mean, marker="o", color=f"C{colour}", label=f"{name} allocation, one-shot")
            ax.fill_between(x, [m - s for m, s in zip(mean, sd)], [m + s for m, s in zip(mean, sd)],
                            color=f"C{colour}", alpha=0.2, linewidth=0)
        for (variant, style, colour) in (("original", "-", "black"), ("dense_extra", "--", "tab:purple")):
            m, s = mean_sd(e["test_accuracy"] for e in evaluations(per_seed, variant))
            ax.axhline(m, color=colour, linestyle=style, linewidth=1.2,
                       label=f"{variant} ({m:.2f} ± {s:.2f} %)" if n > 1 else f"{variant} ({m:.2f} %)")
        ax.axhline(chance, color="grey", linestyle=":", linewidth=1.2, label=f"chance ({chance:.0f} %)")
        for k, (variant, text) in enumerate(POINTS[family].items()):
            evals = evaluations(per_seed, variant)
            x = statistics.mean(e[axis if family == "unstructured" else f"{axis}_reduction"] for e in evals)
            m, s = mean_sd(e["test_accuracy"] for e in evals)
            ax.errorbar(x, m, yerr=s, fmt="*Dsp"[k], markersize=11, capsize=5, color=f"C{len(lines) + k}",
                        zorder=3, label=f"{text} ({m:.2f} %)")
        ax.set(xlabel=label, ylabel="test accuracy (%)", ylim=(0, 100))
        ax.grid(alpha=0.3)
    fig.legend(*panels[0].get_legend_handles_labels(), loc="outside lower center", ncols=2 * len(axes_of),
               fontsize="small")
    spread = f"mean ± sd over {n} seeds" if n > 1 else "one seed"
    fig.suptitle(f"{family.capitalize()} pruning, run {run_name}: test accuracy against compression ({spread})")
    save_figure(fig, path)


def tradeoff_table(per_seed, family):
    """The curves as a markdown table: per target, each allocation's accuracy (mean ± sd over seeds)."""
    lines = curves(per_seed, family)
    targets = list(dict.fromkeys(t for points in lines.values() for t, *_ in points))
    kind = next(iter(per_seed.values()))["params.yaml"]["structured_prune"]["target_kind"]
    header = "conv sparsity" if family == "unstructured" else f"{'MACs' if kind == 'macs' else 'parameters'} removed"
    spread = len(per_seed) > 1
    rows = []
    for target in targets:
        cells = []
        for points in lines.values():
            found = [(m, s) for t, _, m, s in points if t == target]
            cells.append("-" if not found else f"{found[0][0]:.2f} ± {found[0][1]:.2f}" if spread
                         else f"{found[0][0]:.2f}")
        rows.append([f"{target:.2f}", *cells])
    return table([header, *lines], rows)
