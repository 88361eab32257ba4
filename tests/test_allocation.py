import itertools

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from lib import cost, models
from lib.pruning import allocation, structured_allocation, unstructured_allocation
from lib.errors import UserError
from lib.measure import count_params, macs


@pytest.mark.parametrize("arch,head", [("vgg11_bn", "cifar"), ("vgg11", "cifar"), ("vgg11_bn", "imagenet")])
def test_costs_match_the_flop_counter_and_the_built_model(arch, head):
    spec = models.architecture(arch, head, 10, [8, 16, 24, 16, 40, 32, 24, 16])
    model = models.build(spec)
    assert cost.total(spec, "macs") == macs(model)
    assert cost.total(spec, "params") == count_params(model)
    layers = {name: m for name, _, m in models.convs(model) + models.linears(model)}
    assert {name: c["weights"] for name, c in cost.layer_costs(spec).items()} == \
        {name: m.weight.numel() for name, m in layers.items()}


def test_effective_macs_scale_each_layer_by_its_density():
    spec = models.architecture(filters=[8, 16, 16, 16, 32, 32, 32, 32])
    full = cost.layer_costs(spec)
    assert cost.effective_macs(spec, {}) == cost.total(spec)
    assert cost.effective_macs(spec, {"conv1": 0.25, "conv8": 0.0}) == \
        cost.total(spec) - 0.75 * full["conv1"]["macs"] - full["conv8"]["macs"]


RESULTS = {"baseline": {"accuracy": 90.0, "loss": 0.3}, "records": [
    {"layer": "a", "level": 0.5, "accuracy": 90.2}, {"layer": "a", "level": 0.9, "accuracy": 80.0},
    {"layer": "b", "level": 0.5, "accuracy": 85.0}, {"layer": "b", "level": 0.9, "accuracy": 87.0}]}


def test_curves_interpolate_from_zero_clip_and_never_improve_with_more_pruning():
    grid, drop = allocation.curves(RESULTS, ["a", "b"], step=0.1)["a"]
    assert grid[0] == 0 and grid[-1] == 0.9 and drop[0] == 0
    assert np.all(np.diff(drop) >= 0) and np.all(drop >= 0)  # a's -0.2 at 0.5 is clipped to 0
    assert drop[-1] == pytest.approx(10.0)
    grid, drop = allocation.curves(RESULTS, ["a", "b"], step=0.1)["b"]
    assert drop[grid.tolist().index(0.5)] == pytest.approx(5.0) and drop[-1] == pytest.approx(5.0)  # 3.0 -> 5.0
    assert allocation.predicted_drops(allocation.curves(RESULTS, ["a", "b"]), {"a": 0.7, "b": 0.25}) == \
        pytest.approx({"a": 5.0, "b": 2.5})
    with pytest.raises(UserError, match="no records for layer c"):
        allocation.curves(RESULTS, ["c"])


def linear_resource(sizes):
    return lambda levels: sum(levels[k] * n for k, n in sizes.items()) / sum(sizes.values())


def test_uniform_reaches_the_target_with_one_level():
    sizes = {"a": 100, "b": 300, "c": 600}
    levels = allocation.uniform(list(sizes), linear_resource(sizes), 0.7, hi=0.999)
    assert len(set(levels.values())) == 1 and levels["a"] == pytest.approx(0.7, abs=1e-5)
    with pytest.raises(UserError, match="cannot be reached"):
        allocation.uniform(list(sizes), linear_resource(sizes), 0.7, hi=0.5)


@pytest.mark.parametrize("seed", range(5))
def test_sensitivity_matches_brute_force_on_convex_curves(seed):
    """The greedy allocation against an exhaustive search over the same grid: it reaches the target
    and its summed predicted drop is no larger than the best grid combination's."""
    rng = np.random.default_rng(seed)
    sizes = dict(zip("abc", rng.integers(50, 500, 3).tolist()))
    tested = [0.2, 0.4, 0.6, 0.8]
    shape = {k: (rng.uniform(1, 30), rng.uniform(1.5, 4)) for k in sizes}  # convex: a * level^p, p > 1
    records = [{"layer": k, "level": s, "accuracy": 90.0 - shape[k][0] * s ** shape[k][1]}
               for k in sizes for s in tested]
    curves = allocation.curves({"baseline": {"accuracy": 90.0}, "records": records}, list(sizes), step=0.05)
    resource, target = linear_resource(sizes), float(rng.uniform(0.2, 0.7))
    chosen = allocation.sensitivity(curves, resource, target)
    assert resource(chosen) >= target - 1e-6 and resource(chosen) <= target + 1e-4
    greedy = sum(allocation.predicted_drops(curves, chosen).values())
    best = min(sum(curves[k][1][i] for k, i in zip(sizes, combo))
               for combo in itertools.product(*(range(len(curves[k][0])) for k in sizes))
               if resource({k: curves[k][0][i] for k, i in zip(sizes, combo)}) >= target)
    assert greedy <= best + 1e-9


def test_sensitivity_spares_the_sensitive_layer_and_says_when_the_target_is_out_of_reach():
    records = [{"layer": k, "level": s, "accuracy": 90.0 - (40 if k == "a" else 1) * s}
               for k in "ab" for s in (0.5, 0.9)]
    curves = allocation.curves({"baseline": {"accuracy": 90.0}, "records": records}, ["a", "b"])
    chosen = allocation.sensitivity(curves, linear_resource({"a": 1, "b": 1}), 0.4)
    assert chosen["a"] == 0 and chosen["b"] == pytest.approx(0.8, abs=1e-5)
    with pytest.raises(UserError, match="at most 0.9"):
        allocation.sensitivity(curves, linear_resource({"a": 1, "b": 1}), 0.95)


def test_global_levels_equal_torch_global_unstructured():
    torch.manual_seed(0)
    layers = {"conv1": nn.Conv2d(3, 8, 3), "conv2": nn.Conv2d(8, 16, 3), "conv3": nn.Conv2d(16, 4, 3)}
    for m, scale in zip(layers.values(), (1.0, 0.2, 3.0)):  # different scales: the threshold picks unevenly
        m.weight.data.mul_(scale)
    levels = unstructured_allocation.global_levels({k: m.weight for k, m in layers.items()}, 0.6)
    prune.global_unstructured([(m, "weight") for m in layers.values()], prune.L1Unstructured, amount=0.6)
    for name, m in layers.items():
        assert levels[name] == pytest.approx(float((m.weight_mask == 0).float().mean()))
    assert len(set(levels.values())) == 3
    total = sum(m.weight.numel() for m in layers.values())
    assert sum(levels[k] * m.weight.numel() for k, m in layers.items()) == pytest.approx(round(0.6 * total))


def test_largest_within_finds_the_threshold_and_only_returns_measured_points():
    target, trace = allocation.largest_within(lambda t: 10 * t ** 2, budget=1.0, hi=0.99, tol=1e-3)
    assert target == pytest.approx(0.1 ** 0.5, abs=1e-3) and 10 * target ** 2 <= 1.0
    assert any(r["target"] == target for r in trace)
    bumpy = lambda t: 5.0 if 0.3 < t < 0.4 else t  # noqa: E731  not monotone: still a measured point within budget
    target, trace = allocation.largest_within(bumpy, budget=0.6, hi=0.99)
    assert bumpy(target) <= 0.6 and {"target": target, "drop": bumpy(target)} in trace or target == 0.0
    assert allocation.largest_within(lambda t: 0.0, 1.0, hi=0.9)[0] == 0.9


def test_allocators_reach_their_targets_measured_on_the_built_models():
    """unstructured_allocation.allocate / structured_allocation.allocate against independent measurements:
    the zeros of the masked model, and torch's flop counter and parameter count on the physically smaller
    one."""
    from lib.pruning.structured import remove_filters
    from lib.pruning.unstructured import apply_unstructured, sparsity
    torch.manual_seed(0)
    spec = models.architecture(filters=[8, 16, 16, 16, 32, 32, 32, 32])
    model = models.build(spec)
    convs = models.layer_names(model)
    weights = {name: models.layer(model, name).weight for name in convs}
    records = [{"layer": n, "level": s, "accuracy": 90.0 - 10 * s * (k + 1)} for k, n in enumerate(convs)
               for s in (0.5, 0.9)]
    curves = allocation.curves({"baseline": {"accuracy": 90.0}, "records": records}, convs)
    for name in ("global", "uniform", "sensitivity"):
        reachable = unstructured_allocation.reachable(name, weights, curves)
        assert reachable == (0.9 if name == "sensitivity" else 0.99)
        levels = unstructured_allocation.allocate(name, 0.6, weights, curves)
        assert unstructured_allocation.conv_sparsity(weights, levels) == pytest.approx(0.6, abs=1e-3)
        pruned = apply_unstructured(models.build(spec), levels)
        assert sparsity(pruned)["conv_overall"] == pytest.approx(0.6, abs=2e-3), name
    for kind, measured in (("macs", macs), ("params", count_params)):
        for name in ("uniform", "sensitivity"):
            reachable = structured_allocation.reachable(name, spec, curves, kind, round_to=4)
            hi = structured_allocation.largest_ratio(spec)
            assert 0.6 < reachable < 1 and hi == pytest.approx(7 / 8)
            ratios = structured_allocation.allocate(name, 0.5, kind, spec, curves, round_to=4)
            small, _ = remove_filters(model, spec, ratios, round_to=4)
            assert 1 - measured(small) / measured(model) >= 0.5, (kind, name)
    for name in ("uniform", "sensitivity"):  # a joint target: each kind measured on the built model
        ratios = structured_allocation.allocate(name, {"macs": 0.4, "params": 0.6}, "macs", spec, curves, round_to=4)
        small, _ = remove_filters(model, spec, ratios, round_to=4)
        assert 1 - macs(small) / macs(model) >= 0.4 and 1 - count_params(small) / count_params(model) >= 0.6, name
        with pytest.raises(UserError, match=r"joint pruning target .* at most macs"):
            structured_allocation.allocate(name, {"macs": 0.4, "params": 0.99}, "macs", spec, curves, round_to=4)
