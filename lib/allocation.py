"""How a pruning target is spread over the layers, and how a budget becomes a target.

A target is one number for the whole model (the fraction of all conv weights zeroed, or of the
baseline's MACs or parameters removed); `resource(levels)` says how much of it per-layer levels
achieve. The allocations:
- uniform: the same level in every layer (the control every paper reports);
- sensitivity: from the sweep's single-layer validation drops, the levels that reach the target
  with the least summed predicted drop (a multiple-choice knapsack, solved greedily by marginal
  drop per unit of resource on curves interpolated between the tested levels; exact for convex
  curves, the usual shape);
- global (unstructured): one magnitude threshold over all the layers' weights together;
- per_layer: each layer alone at its largest tested level within a per-layer budget (the original
  notebooks' rule; it bounds no combined drop).
`largest_within` turns a budget in points into the largest target whose measured combined drop
stays within it. Levels are fractions in [0, 1); drops are percentage points.
"""
import numpy as np
import torch

from lib import cost
from lib.errors import UserError
from lib.pruning import kept_count


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
    the least predicted drop per unit of resource gained (ties: the larger gain); the last step is then trimmed by bisection so
    the target is met without overshoot beyond what the resource's granularity forces."""
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


def global_levels(weights, target):
    """{layer: fraction of its weights zeroed} when the round(target * total) smallest-magnitude weights
    of all `weights` ({layer: tensor}) together are zeroed: one threshold for the whole model (what
    torch.nn.utils.prune.global_unstructured does, expressed as per-layer levels; ties broken by
    order, so the count is exact)."""
    flat = torch.cat([w.detach().abs().flatten().cpu() for w in weights.values()]).nan_to_num(nan=float("inf"))
    k = round(target * len(flat))  # (a NaN counts as the largest magnitude, as in a sort)
    zeroed = torch.zeros_like(flat, dtype=torch.bool)
    if k:  # the k smallest: all below the k-th smallest value, then the first of its ties (a stable sort's k)
        kth = flat.kthvalue(k).values
        zeroed = flat < kth
        ties = (flat == kth).nonzero().flatten()
        zeroed[ties[:k - int(zeroed.sum())]] = True
    pruned = [int(part.sum()) for part in zeroed.split([w.numel() for w in weights.values()])]
    return {layer: c / w.numel() for (layer, w), c in zip(weights.items(), pruned)}


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


def choose(target, budget, allocate, drop_at, reachable):
    """(levels, target, trace): allocate(target), or with target None the largest target up to
    `reachable` whose one-shot combined drop, drop_at(levels), is within `budget` points (trace: the
    search's measurements; None for a given target)."""
    trace = None
    if target is None:
        target, trace = largest_within(lambda t: drop_at(allocate(t)), budget, reachable)
    return allocate(target), target, trace


def conv_sparsity(weights):
    """resource(levels) for unstructured pruning: the fraction of all conv weights ({layer: tensor})
    that per-layer levels zero."""
    total = sum(w.numel() for w in weights.values())
    return lambda levels: sum(levels.get(n, 0.0) * w.numel() for n, w in weights.items()) / total


def unstructured(allocation, weights, curves_):
    """(allocate, reachable): allocate(target) -> {conv: sparsity} reaching an overall conv sparsity
    `target` by `allocation` (global, uniform or sensitivity), and the largest target it can reach."""
    resource = conv_sparsity(weights)
    if allocation == "global":
        return (lambda target: global_levels(weights, target)), 0.99
    if allocation == "uniform":
        return (lambda target: uniform(list(weights), resource, target, hi=0.999)), 0.99
    return (lambda target: sensitivity(curves_, resource, target)), resource({n: max(curves_[n][0]) for n in weights})


def structured(allocation, arch, convs, curves_, kind, round_to):
    """(allocate, reachable, hi) for structured pruning of a model of architecture `arch`:
    allocate(target) -> {conv: fraction of filters removed} by `allocation` (uniform or sensitivity),
    filter counts rounded to multiples of `round_to`, removing a fraction `target` of the baseline's
    MACs or parameters (`kind`), or, for a mapping such as {"macs": 0.5, "params": 0.7}, at least each
    of those fractions at once; the largest `kind` target it can reach; and the largest ratio that
    keeps a filter in every layer.

    A joint target is allocated as one resource, the mean over its kinds of the share of each
    kind's target met (capped at 1), which reaches 1 exactly when every kind's target is met: a
    step counts for every kind it still helps, and for no kind already met (a heuristic; the
    one-kind greedy is exact for convex curves, the joint one is not claimed to be)."""
    base = {k: cost.total(arch, k) for k in ("macs", "params")}

    def removed(levels):  # {kind: fraction of the baseline's MACs / parameters removed}
        shrunk = {**arch, "filters": [kept_count(n, levels.get(name, 0.0), round_to)
                                      for name, n in zip(convs, arch["filters"])]}
        return {k: 1 - cost.total(shrunk, k) / total for k, total in base.items()}

    hi = min(1 - 1 / n for n in arch["filters"])
    top = {n: hi if allocation == "uniform" else max(curves_[n][0]) for n in convs}

    def allocate(target):
        if isinstance(target, dict):
            most = removed(top)
            if any(most[k] < t for k, t in target.items()):
                raise UserError(f"the joint pruning target {target} cannot be reached with allocation {allocation}: "
                                "at most " + ", ".join(f"{k} {most[k]:.4f}" for k in target) + ". Lower it (or test "
                                "higher levels in the sensitivity sweep)")
            goal = 1.0

            def resource(levels):
                got = removed(levels)
                return sum(min(got[k] / t, 1.0) for k, t in target.items()) / len(target)
        else:
            goal, resource = target, lambda levels: removed(levels)[kind]  # noqa: E731
        return uniform(convs, resource, goal, hi) if allocation == "uniform" else sensitivity(curves_, resource, goal)

    return allocate, removed(top)[kind] - 1e-6, hi
