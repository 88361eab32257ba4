import copy

import pytest
import torch
from torch import nn

from lib import models
from lib.pruning import gradual
from lib.pruning.unstructured import make_permanent
from lib.pruning.unstructured_allocation import global_levels

SMALL = [8, 16, 16, 16, 32, 32, 32, 32]


def test_cubic_schedule_values():
    f = lambda step: gradual.cubic(step, final=0.9, initial=0.1, ramp=100, every=10)  # noqa: E731
    assert f(0) == pytest.approx(0.1) and f(100) == pytest.approx(0.9) and f(500) == pytest.approx(0.9)
    assert f(50) == pytest.approx(0.9 - 0.8 * 0.5 ** 3)
    assert f(57) == f(50) and f(59) == f(50) and f(60) > f(50)  # held between updates
    values = [f(s) for s in range(0, 101, 10)]
    assert values == sorted(values)
    assert gradual.cubic(0, final=0.3, initial=0.5, ramp=100, every=10) == pytest.approx(0.3)  # initial capped
    assert gradual.cubic(0, final=0.3, initial=0.0, ramp=0, every=10) == 0.3


def small_model():
    torch.manual_seed(0)
    return models.build(models.architecture(filters=SMALL))


def train(model, steps, check):
    """A plain training loop (what lib.train.fit does), calling check(step) after each step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    g = torch.Generator().manual_seed(0)
    model.train()
    for step in range(steps):
        x, y = torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g)
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        check(step)


def test_per_layer_gradual_pruning_follows_the_schedule_exactly():
    model = small_model()
    final = {"conv2": 0.8, "conv5": 0.5, "conv8": 0.95}
    ramp, every = 12, 3
    levels_at = lambda step: {n: gradual.cubic(step, s, 0.0, ramp, every) for n, s in final.items()}  # noqa: E731
    handle = gradual.attach(model, levels_at, every)
    seen = {}

    def check(step):
        counts = {n: gradual.zeros(models.layer(model, n)) for n in final}
        if step % every == 0:  # an update ran before this step: exactly the scheduled number masked
            assert counts == {n: round(s * models.layer(model, n).weight.numel()) for n, s in levels_at(step).items()}
        else:  # held between updates
            assert counts == seen[step - 1]
        for n in final:  # pruned weights are exactly zero in what the forward pass uses
            module = models.layer(model, n)
            if hasattr(module, "weight_mask"):
                assert torch.all((module.weight_orig * module.weight_mask)[module.weight_mask == 0] == 0)
        seen[step] = counts

    train(model, 20, check)
    handle.remove()
    assert [seen[s]["conv8"] for s in range(0, 20, every)] == sorted(seen[s]["conv8"] for s in range(0, 20, every))
    gradual.prune_to(model, levels_at(ramp))
    make_permanent(model)
    for n, s in final.items():  # the final mask is the final target
        weight = models.layer(model, n).weight
        assert int((weight == 0).sum()) == round(s * weight.numel())
    assert int((models.layer(model, "conv1").weight == 0).sum()) == 0


def test_masks_only_grow_and_prune_the_smallest_remaining_weights():
    model = small_model()
    conv = models.layer(model, "conv3")
    before = conv.weight.detach().clone()
    gradual.prune_to(model, {"conv3": 0.5})
    first = conv.weight_mask.clone()
    assert before[first == 0].abs().max() <= before[first == 1].abs().min()
    with torch.no_grad():
        conv.weight_orig.mul_(torch.rand_like(conv.weight_orig))  # training moved the weights
    current = (conv.weight_orig * conv.weight_mask).detach().clone()
    gradual.prune_to(model, {"conv3": 0.7})
    assert torch.all(conv.weight_mask[first == 0] == 0)  # what was pruned stays pruned
    newly = (first == 1) & (conv.weight_mask == 0)
    assert int(newly.sum()) == round(0.7 * conv.weight.numel()) - round(0.5 * conv.weight.numel())
    assert current[newly].abs().max() <= current[conv.weight_mask == 1].abs().min()
    gradual.prune_to(model, {"conv3": 0.6})  # lower than now: nothing changes
    assert int((conv.weight_mask == 0).sum()) == round(0.7 * conv.weight.numel())


def test_global_gradual_pruning_reaches_each_scheduled_overall_sparsity():
    model = small_model()
    convs = models.layer_names(model)
    total = sum(models.layer(model, n).weight.numel() for n in convs)
    ramp, every = 8, 2

    def levels_at(step):
        overall = gradual.cubic(step, 0.9, 0.0, ramp, every)
        return global_levels(gradual.effective_weights(model, convs), overall)

    handle = gradual.attach(model, levels_at, every)

    def check(step):
        if step % every == 0 and step > 0:
            masked = sum(gradual.zeros(models.layer(model, n)) for n in convs)
            assert masked == round(gradual.cubic(step, 0.9, 0.0, ramp, every) * total)

    train(model, 12, check)
    handle.remove()
    assert sum(gradual.zeros(models.layer(model, n)) for n in convs) == round(0.9 * total)


def test_evaluation_passes_do_not_advance_the_schedule():
    model = small_model()
    calls = []
    handle = gradual.attach(model, lambda step: calls.append(step) or {}, every=1)
    model.eval()
    with torch.no_grad():
        model(torch.randn(2, 3, 32, 32))
    model.train()
    model(torch.randn(2, 3, 32, 32))
    with torch.no_grad():
        copy.deepcopy(model)(torch.randn(2, 3, 32, 32))  # recalibration-style passes: no gradients
    handle.remove()
    model(torch.randn(2, 3, 32, 32))
    assert calls == [0]
