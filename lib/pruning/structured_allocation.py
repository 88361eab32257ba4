"""How a reduction of the baseline's MACs or parameters (or both at once) is spread over the conv layers
as fractions of filters removed, counts rounded to multiples of round_to: the same ratio everywhere,
or the sensitivity allocation (lib.pruning.allocation, the engine both families share)."""
import functools

from lib import cost
from lib.errors import UserError
from lib.pruning import allocation
from lib.pruning.structured import kept_count


def largest_ratio(arch):
    """The largest fraction of filters removable from every layer of `arch` with a filter left in each."""
    return min(1 - 1 / n for n in arch["filters"])


def removed(arch, round_to, levels):
    """{"macs": r, "params": r}: the fractions of `arch`'s MACs and parameters removed by taking the fraction
    levels[conv] of each conv's filters (conv1 ... in order; counts rounded to multiples of `round_to`)."""
    names = [f"conv{i + 1}" for i in range(len(arch["filters"]))]
    shrunk = {**arch, "filters": [kept_count(n, levels.get(name, 0.0), round_to)
                                  for name, n in zip(names, arch["filters"])]}
    return {k: 1 - cost.total(shrunk, k) / cost.total(arch, k) for k in ("macs", "params")}


def _kind(arch, round_to, kind, levels):
    return removed(arch, round_to, levels)[kind]


def _joint(arch, round_to, target, levels):
    """A joint target as one resource: the mean over its kinds of the share of each kind's target met
    (capped at 1), which reaches 1 exactly when every kind's target is met."""
    got = removed(arch, round_to, levels)
    return sum(min(got[k] / t, 1.0) for k, t in target.items()) / len(target)


def _top(method, arch, curves_):
    """Each layer's largest level under `method`: one filter left everywhere (uniform), or the sweep's largest."""
    hi = largest_ratio(arch)
    return {n: hi if method == "uniform" else max(curves_[n][0]) for n in curves_}


def reachable(method, arch, curves_, kind, round_to):
    """The largest reduction of `kind` (macs or params) the allocation `method` reaches (less a hair, so a
    target at it is met)."""
    return removed(arch, round_to, _top(method, arch, curves_))[kind] - 1e-6


def allocate(method, target, kind, arch, curves_, round_to):
    """{conv: fraction of filters removed} by the allocation `method` (uniform or sensitivity; `curves_`:
    the sweep's, one per conv) for a model of architecture `arch`, filter counts rounded to multiples of
    `round_to`: removing a fraction `target` of its MACs or parameters (`kind`) or, for a mapping such as
    {"macs": 0.5, "params": 0.7}, at least each of those fractions at once. A joint target is allocated as
    one resource (_joint): a step counts for every kind it still helps, and for no kind already met (a
    heuristic; the one-kind greedy is exact for convex curves, the joint one is not claimed to be)."""
    if isinstance(target, dict):
        most = removed(arch, round_to, _top(method, arch, curves_))
        if any(most[k] < t for k, t in target.items()):
            raise UserError(f"the joint pruning target {target} cannot be reached with allocation {method}: at most "
                            + ", ".join(f"{k} {most[k]:.4f}" for k in target) + ". Lower it (or test higher levels "
                            "in the sensitivity sweep)")
        goal, resource = 1.0, functools.partial(_joint, arch, round_to, target)
    else:
        goal, resource = target, functools.partial(_kind, arch, round_to, kind)
    if method == "uniform":
        return allocation.uniform(list(curves_), resource, goal, largest_ratio(arch))
    return allocation.sensitivity(curves_, resource, goal)
