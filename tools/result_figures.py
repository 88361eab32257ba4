"""The documentation's trade-off figures and tables, drawn by `make results` from a run's records over
all its seeds: each family's one-shot curves (every allocation: mean over seeds, a band of ± sd; where
recorded, the same before batch-norm recalibration, dashed), its pruned variants and their controls (mean
± sd), the dense models as lines, chance level marked; the structured curves against the MACs and against
the parameters removed. lib.plots.tradeoff_figure draws them (each axis over the whole range and zoomed on
the trained models). Each title names the run."""
import statistics

from lib import models, plots, seeds
from lib.errors import UserError
from lib.report import table
from lib.pruning import allocation, structured_allocation
from lib.variants import VARIANTS

AXES = {"unstructured": {"conv_sparsity": "fraction of the conv weights zeroed"},
        "structured": {"macs": "fraction of the baseline's MACs removed",
                       "params": "fraction of the baseline's parameters removed"}}
STALE = "_before_recalibration"  # a curve row's key for an allocation's accuracy before batch-norm recalibration


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


def allocations(tables):
    """The allocations of a family's curve rows, in order (not the reached reductions, not the accuracies
    before recalibration)."""
    return list(dict.fromkeys(k for t in tables for row in t for k in row
                              if k != "target" and not k.endswith("_achieved") and not k.endswith(STALE)))


def curves(per_seed, family, suffix=""):
    """{allocation: [(target, {axis: mean position}, accuracy mean, accuracy sd)]} over the seeds, one
    entry per target every seed reached with that allocation; the accuracy is the rows' <allocation><suffix>
    (suffix STALE: before batch-norm recalibration; an allocation without it has no entries)."""
    tables = [r[f"reports/plots/{family}_tradeoff.json"] for r in per_seed.values()]
    where = [structured_reductions(r, t) if family == "structured" else
             [{k: {"conv_sparsity": row["target"]} for k in row if k != "target"} for row in t]
             for r, t in zip(per_seed.values(), tables)]
    out = {}
    for name in allocations(tables):
        out[name] = []
        for i, target in enumerate(row["target"] for row in tables[0]):
            if all(i < len(t) and t[i]["target"] == target and name + suffix in t[i] for t in tables):
                acc = mean_sd(t[i][name + suffix] for t in tables)
                at = {axis: statistics.mean(w[i][name][axis] for w in where) for axis in AXES[family]}
                out[name].append((target, at, *acc))
    return out


def evaluations(per_seed, variant):
    return [r[f"reports/eval/{VARIANTS[variant]['evaluation']}.json"] for r in per_seed.values()]


def points(per_seed, family, axis):
    """The family's variants and controls on one axis: lib.plots.Point, position and accuracy the mean over
    the seeds, the accuracy's sd."""
    chosen = next(iter(per_seed.values()))["reports/unstructured_sparsities.json"]
    out = []
    for variant, label in plots.tradeoff_labels(family, chosen).items():
        evals = evaluations(per_seed, variant)
        x = statistics.mean(e[axis if family == "unstructured" else f"{axis}_reduction"] for e in evals)
        accuracy = mean_sd(e["test_accuracy"] for e in evals)
        out.append(plots.Point(label, x, *accuracy, zoom=variant not in plots.ONE_SHOT))
    return out


def tradeoff_data(per_seed, family, run_name):
    """The family's trade-off figure over the seeds, as lib.plots.tradeoff_figure draws it: one panel per
    axis (AXES), the dense models' lines, chance level, a title naming the run and the spread."""
    after, before = curves(per_seed, family), curves(per_seed, family, STALE)
    panels = [plots.Panel(label, {name: [(at[axis], m, s) for _, at, m, s in xs] for name, xs in after.items()},
                          points(per_seed, family, axis),
                          {name: [(at[axis], m, s) for _, at, m, s in xs] for name, xs in before.items() if xs})
              for axis, label in AXES[family].items()]
    lines = [(v, *mean_sd(e["test_accuracy"] for e in evaluations(per_seed, v))) for v in ("original", "dense_extra")]
    chance = 100 / len(next(iter(per_seed.values()))["reports/data.json"]["classes"])
    n = len(per_seed)
    spread = f"mean ± sd over {n} seeds" if n > 1 else "one seed"
    title = f"{family.capitalize()} pruning, run {run_name}: test accuracy against compression ({spread})"
    return plots.Tradeoff(title, panels, lines, chance)


def tradeoff_table(per_seed, family):
    """The curves as a markdown table: per target, each allocation's accuracy (mean ± sd over seeds) and,
    where recorded, beside it the same before batch-norm recalibration ("<allocation> (stale BN)"), then a
    line saying what those columns are."""
    after, before = curves(per_seed, family), curves(per_seed, family, STALE)
    columns = {}
    for name in after:
        columns[name] = after[name]
        if before[name]:
            columns[f"{name} (stale BN)"] = before[name]
    targets = list(dict.fromkeys(t for xs in columns.values() for t, *_ in xs))
    kind = next(iter(per_seed.values()))["params.yaml"]["structured_prune"]["target_kind"]
    header = "conv sparsity" if family == "unstructured" else f"{'MACs' if kind == 'macs' else 'parameters'} removed"
    spread = len(per_seed) > 1
    rows = []
    for target in targets:
        found = [next(((m, s) for t, _, m, s in xs if t == target), None) for xs in columns.values()]
        rows.append([f"{target:.2f}", *("-" if f is None else f"{f[0]:.2f} ± {f[1]:.2f}" if spread
                                        else f"{f[0]:.2f}" for f in found)])
    note = ["", "`(stale BN)`: the same one-shot model scored before its batch-norm recalibration, on the dense "
            "model's batch-norm statistics."] if any(before.values()) else []
    return table([header, *columns], rows) + note
