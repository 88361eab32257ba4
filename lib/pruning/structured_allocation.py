"""How a reduction of the baseline's MACs or parameters (or both at once) is spread over the conv layers
as fractions of filters removed, counts rounded to multiples of round_to: the same ratio everywhere,
or the sensitivity allocation (lib.pruning.allocation, the engine both families share)."""
from lib import cost
from lib.errors import UserError
from lib.pruning import allocation
from lib.pruning.structured import kept_count


def largest_ratio(arch):
    """The largest fraction of filters removable from every layer of `arch` with a filter left in each."""
    return min(1 - 1 / n for n in arch["filters"])


def reducer(arch, convs, round_to):
    """removed(levels) -> {"macs": r, "params": r}: the fractions of `arch`'s MACs and parameters removed by
    taking the fraction levels[conv] of each conv's filters (counts rounded to multiples of `round_to`)."""
    base = {k: cost.total(arch, k) for k in ("macs", "params")}

    def removed(levels):
        shrunk = {**arch, "filters": [kept_count(n, levels.get(name, 0.0), round_to)
                                      for name, n in zip(convs, arch["filters"])]}
        return {k: 1 - cost.total(shrunk, k) / total for k, total in base.items()}
    return removed


def allocator(method, arch, convs, curves_, kind, round_to):
    """(allocate, reachable) for structured pruning of a model of architecture `arch`:
    allocate(target) -> {conv: fraction of filters removed} by the allocation `method` (uniform or
    sensitivity), filter counts rounded to multiples of `round_to`, removing a fraction `target` of the baseline's
    MACs or parameters (`kind`), or, for a mapping such as {"macs": 0.5, "params": 0.7}, at least each
    of those fractions at once; and the largest `kind` target it can reach.

    A joint target is allocated as one resource, the mean over its kinds of the share of each
    kind's target met (capped at 1), which reaches 1 exactly when every kind's target is met: a
    step counts for every kind it still helps, and for no kind already met (a heuristic; the
    one-kind greedy is exact for convex curves, the joint one is not claimed to be)."""
    removed = reducer(arch, convs, round_to)

    hi = largest_ratio(arch)
    top = {n: hi if method == "uniform" else max(curves_[n][0]) for n in convs}

    def allocate(target):
        if isinstance(target, dict):
            most = removed(top)
            if any(most[k] < t for k, t in target.items()):
                raise UserError(f"the joint pruning target {target} cannot be reached with allocation {method}: "
                                "at most " + ", ".join(f"{k} {most[k]:.4f}" for k in target) + ". Lower it (or test "
                                "higher levels in the sensitivity sweep)")
            goal = 1.0

            def resource(levels):
                got = removed(levels)
                return sum(min(got[k] / t, 1.0) for k, t in target.items()) / len(target)
        else:
            goal, resource = target, lambda levels: removed(levels)[kind]  # noqa: E731
        return (allocation.uniform(convs, resource, goal, hi) if method == "uniform"
                else allocation.sensitivity(curves_, resource, goal))

    return allocate, removed(top)[kind] - 1e-6
