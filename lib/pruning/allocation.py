"""How a pruning target is spread over the layers, and how a budget becomes a target: the engine both
families share (each family's allocation module, lib.pruning.unstructured_allocation and
lib.pruning.structured_allocation, says what its levels cost).

A target is one number for the whole model (the fraction of all conv weights zeroed, or of the
baseline's MACs or parameters removed); `resource(levels)` says how much of it per-layer levels
achieve. The allocations:
- uniform: the same level in every layer (the control every paper reports);
- sensitivity: from the sweep's single-layer validation drops, the levels that reach the target
  with the least summed predicted drop (a multiple-choice knapsack, solved greedily by marginal
  drop per unit of resource on curves interpolated between the tested levels; exact for convex
  curves, the usual shape);
- global (unstructured only, lib.pruning.unstructured): one magnitude threshold over all the layers'
  weights together;
- lamp (unstructured only): one threshold over all the layers' LAMP scores (magnitudes normalised
  within each layer, Lee et al. 2021);
- per_layer: each layer alone at its largest tested level within a per-layer budget (the original
  notebooks' rule; it bounds no combined drop).
`largest_within` turns a budget in points into the largest target whose measured combined drop
stays within it. A `resource(levels)` is a function of per-layer levels (each family's is a named function
of its model, given its fixed arguments with functools.partial). Levels are fractions in [0, 1); drops are
percentage points.
"""
import numpy as np

from lib.errors import UserError


def curves(results, layers, step=0.01):
    """{layer: (grid, predicted drop)} from a sweep's results: each layer's tested drops clipped at 0
    and made non-decreasing (a layer pruned more is never predicted to do better; measured drops of
    a few tenths below zero are noise), then interpolated linearly on a grid from 0 (drop 0) to its
    largest tested level."""
    baseline = results["baseline"]["accuracy"]
    out = {}
    for layer in layers:
        tested = sorted((r["level"], baseline - r["accuracy"]) for r in results["records"] if r["layer"] == layer)
        if not tested:
            raise UserError(f"the sensitivity results have no records for layer {layer}; re-run the sweep")
        levels, drops = zip((0.0, 0.0), *tested)
        drops = np.maximum.accumulate(np.maximum(drops, 0))
        grid = np.unique(np.append(np.arange(0, levels[-1], step), levels[-1]))
        out[layer] = (grid, np.interp(grid, levels, drops))
    return out


def predicted_drops(curves_, levels):
    """{layer: the sweep's predicted single-layer drop at its level} (summing them is the sensitivity
    allocation's objective, not a prediction of the combined drop)."""
    return {layer: float(np.interp(levels.get(layer, 0.0), *curves_[layer])) for layer in curves_}


def _smallest_reaching(resource, target, lo, hi, at, tol=1e-6):
    """The smallest x in (lo, hi] with resource(at(x)) >= target, by bisection (resource non-decreasing in x)."""
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if resource(at(mid)) >= target else (mid, hi)
    return hi


def _unreachable(target, reachable, how):
    raise UserError(f"a pruning target of {target} cannot be reached {how}: at most {reachable:.4f}. Lower the "
                    "target (or test higher levels in the sensitivity sweep)")


def uniform(layers, resource, target, hi):
    """{layer: the same level}, the smallest level <= hi whose resource reaches `target`."""
    at = lambda x: {layer: x for layer in layers}  # noqa: E731
    if resource(at(hi)) < target:
        _unreachable(target, resource(at(hi)), f"with the same level in every layer (up to {hi})")
    return at(_smallest_reaching(resource, target, 0.0, hi, at))


def sensitivity(curves_, resource, target):
    """{layer: level} reaching `target` with the least summed predicted drop (greedy, see the module
    doc): step by step, advance the layer whose next grid level (the next that gains anything) costs
    the least predicted drop per unit of resource gained (ties: the larger gain); the last step is then
    trimmed by bisection so the target is met without overshoot beyond what the resource's granularity forces."""
    index = {layer: 0 for layer in curves_}
    levels = lambda: {layer: float(curves_[layer][0][i]) for layer, i in index.items()}  # noqa: E731
    current, last = resource(levels()), None
    while current < target:
        best = None
        for layer, (grid, drop) in curves_.items():
            i, j, gain = index[layer], index[layer], 0.0
            while gain <= 0 and j + 1 < len(grid):  # the next level that gains anything (filter counts are whole)
                j += 1
                gain = resource({**levels(), layer: float(grid[j])}) - current
            if gain > 0 and (best is None or ((drop[j] - drop[i]) / gain, -gain) < best[0]):
                best = (((drop[j] - drop[i]) / gain, -gain), layer, i, j)
        if best is None:
            _unreachable(target, current, "within the tested levels of the sensitivity sweep")
        _, last, previous, index[last] = best
        current = resource(levels())
    chosen = levels()
    if last is not None:
        grid = curves_[last][0]
        chosen[last] = _smallest_reaching(resource, target, float(grid[previous]), float(grid[index[last]]),
                                          lambda x: {**chosen, last: x})
    return chosen


def largest_within(drop_at, budget, hi, tol=0.005):
    """(target, trace): the largest target in [0, hi] whose measured drop `drop_at(target)` is at most
    `budget` points, by bisection (to `tol`), and every (target, drop) measured. The returned target
    is one that was measured within the budget (or 0), whatever the shape of the curve."""
    trace = [{"target": hi, "drop": drop_at(hi)}]
    if trace[0]["drop"] <= budget:
        return hi, trace
    lo = 0.0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        trace.append({"target": mid, "drop": drop_at(mid)})
        lo, hi = (mid, hi) if trace[-1]["drop"] <= budget else (lo, mid)
    return lo, trace


def choose_levels(results, budget):
    """{layer: the largest tested level whose accuracy drop from the baseline is at most `budget`
    points (0.0 when none is)}, for every layer of a sweep's results: the per_layer allocation."""
    baseline = results["baseline"]["accuracy"]
    chosen = {}
    for r in results["records"]:
        within = baseline - r["accuracy"] <= budget + 1e-9  # tolerate float rounding of percentages
        chosen[r["layer"]] = max(chosen.get(r["layer"], 0.0), r["level"] if within else 0.0)
    return chosen


def explicit(mapping, layers, optional=()):
    """The per-layer levels of an explicit mapping: its levels, 0 for the `layers` it does not list;
    `optional` layers may be listed too, and are left out when they are not (their level is set
    elsewhere). An unknown layer name stops the stage before any work."""
    unknown = [name for name in mapping if name not in [*layers, *optional]]
    if unknown:
        raise UserError(f"unknown layer '{unknown[0]}'; allowed: {', '.join([*layers, *optional])}")
    return {**{name: 0.0 for name in layers}, **{name: float(level) for name, level in mapping.items()}}
