"""Filter-importance criteria (lib.pruning.structured.filter_scores: Torch-Pruning's importances, and
taylor_gradients), random unstructured masks and the LAMP allocation, each against an independent
computation: the formula written out directly."""
import copy
import functools

import pytest
import torch
from torch import nn

from conftest import SMALL_FILTERS, make_split
from lib import models
from lib.data import normalize
from lib.errors import UserError
from lib.pruning import structured, unstructured, unstructured_allocation

tp = pytest.importorskip("torch_pruning")

def tiny_model(arch="vgg11_bn"):
    """A fresh copy of a small VGG-11 with random batch-norm affine parameters and statistics."""
    return copy.deepcopy(_tiny(arch))


@functools.cache
def _tiny(arch):
    torch.manual_seed(0)
    model = models.build(models.architecture(arch, filters=SMALL_FILTERS))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(-1.5, 1.5)  # negative scales too: the criterion is |gamma|
                m.bias.normal_(0, 0.3)
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def assert_scores_close(ours, reference, rtol=1e-5):
    assert list(ours) == [f"conv{k}" for k in range(1, 9)] and set(reference) == set(ours)
    for name, s in ours.items():
        assert s.shape == (len(reference[name]),), name
        assert torch.allclose(s.float(), reference[name].float(), rtol=rtol, atol=1e-7), name


def written_out(model, formula):
    """{conv name: formula(its weight, the batch norm after it)}: a criterion computed directly."""
    layers = list(model.features)
    return {name: formula(conv.weight.detach(), layers[index + 1]) for name, index, conv in models.convs(model)}


# --- structured criteria (Torch-Pruning's importances, each against its formula) --------------------

def test_l1_and_l2_are_the_filter_norms_written_out():
    model = tiny_model()
    assert_scores_close(structured.filter_scores(model, "l1"), written_out(model, lambda w, bn: w.abs().sum((1, 2, 3))))
    squares = written_out(model, lambda w, bn: (w * w).sum((1, 2, 3)))  # the L2 norm's order: its square
    assert_scores_close(structured.filter_scores(model, "l2"), squares)
    for name, _, conv in models.convs(model):  # l1 is the filter_norms ranking of the default
        assert torch.equal(structured.filter_scores(model, "l1")[name], structured.filter_norms(conv))


def test_bn_scale_is_the_batch_norm_scale_and_needs_batch_norm():
    model = tiny_model()
    assert_scores_close(structured.filter_scores(model, "bn_scale"), written_out(model, lambda w, bn: bn.weight.abs()))
    with pytest.raises(UserError, match=r"conv1 has no batch norm.*vgg11"):
        structured.filter_scores(tiny_model("vgg11"), "bn_scale")


def test_taylor_equals_torch_pruning_taylor_importance():
    """Torch-Pruning's TaylorImportance of each conv's output channels (from a full backward pass, the
    gradients it reads) is what filter_scores computes from the conv gradients alone."""
    model = tiny_model()
    split = make_split(16)
    nn.functional.cross_entropy(model(normalize(split["images"])), split["labels"]).backward()
    gradients = {name: conv.weight.grad.clone() for name, _, conv in models.convs(model)}
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=torch.randn(1, 3, 32, 32))
    importance = tp.importance.TaylorImportance(group_reduction="first", normalizer=None)
    reference = {name: importance(graph.get_pruning_group(conv, tp.prune_conv_out_channels,
                                                          idxs=list(range(conv.out_channels))))
                 for name, _, conv in models.convs(model)}
    assert_scores_close(structured.filter_scores(model, "taylor", gradients=gradients), reference)
    with pytest.raises(UserError, match="gradient of conv8"):
        structured.filter_scores(model, "taylor", gradients={k: v for k, v in gradients.items() if k != "conv8"})
    with pytest.raises(UserError, match="taylor_gradients"):
        structured.filter_scores(model, "taylor")


def test_fpgm_is_the_summed_distance_to_the_layers_other_filters():
    """He et al.'s geometric-median criterion as Torch-Pruning computes it: each filter's summed Euclidean
    distance to the layer's filters, on |w|^2 (a filter near the others' geometric median scores low)."""
    model = tiny_model()

    def distances(w, bn):
        f = (w.abs() ** 2).flatten(1).double()
        return ((f[:, None, :] - f[None, :, :]) ** 2).sum(-1).sqrt().sum(1)
    # float32 distances through the Gram matrix (torch.cdist) against these in float64
    assert_scores_close(structured.filter_scores(model, "fpgm"), written_out(model, distances), rtol=1e-4)


def test_scoring_traces_the_model_without_changing_it():
    """Torch-Pruning traces the model once: in eval mode, so batch-norm statistics stay as they were, and the
    model is left in its mode."""
    model = tiny_model().train()
    before = copy.deepcopy(model.state_dict())
    structured.filter_scores(model, "l1")
    assert model.training and all(torch.equal(t, before[k]) for k, t in model.state_dict().items())


def test_taylor_gradients_are_the_summed_batch_loss_gradients_and_leave_the_model_alone():
    model = tiny_model()
    before = copy.deepcopy(model.state_dict())
    split = make_split(16)
    direct = copy.deepcopy(model)  # eval mode: each image's gradient is its own, whatever batch it is in
    nn.functional.cross_entropy(direct(normalize(split["images"])), split["labels"]).backward()
    model.train()
    one = structured.taylor_gradients(model, split, 1, 16, torch.Generator().manual_seed(0))
    two = structured.taylor_gradients(model, split, 2, 8, torch.Generator().manual_seed(0))
    for name, _, conv in models.convs(direct):
        assert torch.allclose(one[name], conv.weight.grad, rtol=1e-4, atol=1e-6), name
        # two half batches: two means over halves of the split, twice the mean over all of it
        assert torch.allclose(two[name], 2 * conv.weight.grad, rtol=1e-4, atol=1e-6), name
    assert model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(t, before[k]) for k, t in model.state_dict().items())
    with pytest.raises(UserError, match="one full batch of 32"):
        structured.taylor_gradients(model, split, 1, 32, torch.Generator())
    with pytest.warns(UserWarning, match="using 2"):
        structured.taylor_gradients(model, split, 5, 8, torch.Generator())


def test_random_scores_are_seeded_draws_in_conv_order():
    model = tiny_model()
    draw = lambda seed: structured.filter_scores(model, "random", generator=torch.Generator().manual_seed(seed))  # noqa: E731
    first, again, other = draw(1), draw(1), draw(2)
    assert all(torch.equal(first[n], again[n]) for n in first)
    assert all(not torch.equal(first[n], other[n]) for n in first)
    direct = torch.rand(sum(SMALL_FILTERS), generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.cat(list(first.values())), direct)
    with pytest.raises(UserError, match="Generator"):
        structured.filter_scores(model, "random")
    with pytest.raises(UserError, match="unknown filter criterion 'l3'.*bn_scale"):
        structured.filter_scores(model, "l3")


def test_scores_decide_which_filters_remove_filters_keeps():
    """conv1's filter 0 has one large weight (L1 3, L2 3), filter 1 27 small ones (L1 5.4, L2 1.04), the
    others are larger on both: removing one filter drops 0 by L1 and 1 by L2."""
    model = tiny_model()
    spec = models.architecture("vgg11_bn", filters=SMALL_FILTERS)
    conv = models.layer(model, "conv1")
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.weight[0] = 0
        conv.weight[0, 0, 0, 0] = 3.0
        conv.weight[1] = 0.2
    ratios = {"conv1": 1 / 8}
    by_default, _ = structured.remove_filters(model, spec, ratios)
    by_l1, _ = structured.remove_filters(model, spec, ratios, scores=structured.filter_scores(model, "l1"))
    by_l2, _ = structured.remove_filters(model, spec, ratios, scores=structured.filter_scores(model, "l2"))
    assert torch.equal(models.layer(by_default, "conv1").weight, conv.weight[1:])
    assert torch.equal(models.layer(by_l1, "conv1").weight, conv.weight[1:])
    assert torch.equal(models.layer(by_l2, "conv1").weight, conv.weight[[0, *range(2, 8)]])
    masked = structured.mask_filters(copy.deepcopy(model), ratios, scores=structured.filter_scores(model, "l2"))
    assert torch.all(models.layer(masked, "conv1").weight[1] == 0) and masked.features[1].weight[1] == 0
    assert torch.equal(models.layer(masked, "conv1").weight[0], conv.weight[0])
    with pytest.raises(UserError, match="one score per filter of conv1"):
        structured.filters_to_keep(model, ratios, scores={"conv1": torch.zeros(3)})


# --- unstructured random masks ------------------------------------------------------------------

SPARSITIES = {"conv1": 0.3, "conv5": 0.9, "fc1": 0.5}


def test_random_unstructured_masks_are_exact_seeded_and_not_magnitude():
    masks = {}
    for key, criterion, seed in (("a", "random", 1), ("again", "random", 1), ("b", "random", 2),
                                 ("magnitude", "magnitude", None)):
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        model = unstructured.apply_unstructured(tiny_model(), SPARSITIES, criterion, generator)
        masks[key] = {n: models.layer(model, n).weight_mask.clone() for n in SPARSITIES}
        for name, s in SPARSITIES.items():
            layer = models.layer(model, name)
            assert int((layer.weight_mask == 0).sum()) == round(s * layer.weight.numel()), (key, name)
            assert torch.equal(layer.weight, layer.weight_orig * layer.weight_mask)
    for name in SPARSITIES:
        assert torch.equal(masks["a"][name], masks["again"][name])
        assert not torch.equal(masks["a"][name], masks["b"][name])
        assert not torch.equal(masks["a"][name], masks["magnitude"][name])
    with pytest.raises(UserError, match="Generator"):
        unstructured.apply_unstructured(tiny_model(), SPARSITIES, "random")
    with pytest.raises(UserError, match="unknown unstructured criterion 'l2'"):
        unstructured.apply_unstructured(tiny_model(), SPARSITIES, "l2")


# --- LAMP ---------------------------------------------------------------------------------------

def brute_force_lamp(w):
    """Each weight's LAMP score by its definition: w_u^2 over the sum of w_v^2 for |w_v| >= |w_u|."""
    flat = w.flatten().double()
    return torch.stack([u ** 2 / (flat[flat.abs() >= u.abs()] ** 2).sum() for u in flat]).view(w.shape)


@pytest.mark.parametrize("seed", range(3))
def test_lamp_scores_match_their_definition(seed):
    g = torch.Generator().manual_seed(seed)
    for shape in ((5, 3, 3, 3), (40,), (7, 9)):
        w = torch.randn(shape, generator=g) * 2
        assert torch.allclose(unstructured_allocation.lamp_scores(w), brute_force_lamp(w), rtol=1e-9)


@pytest.mark.parametrize("target", [0.0, 0.37, 0.8])
def test_lamp_levels_zero_the_lowest_scores_over_all_layers(target):
    g = torch.Generator().manual_seed(0)
    weights = {"a": torch.randn(4, 3, 3, 3, generator=g), "b": 0.1 * torch.randn(50, generator=g),
               "c": 5 * torch.randn(6, 10, generator=g)}
    levels = unstructured_allocation.lamp_levels(weights, target)
    total = sum(w.numel() for w in weights.values())
    assert sum(levels[k] * w.numel() for k, w in weights.items()) == pytest.approx(round(target * total))
    scores = torch.cat([brute_force_lamp(w).flatten() for w in weights.values()])
    threshold = scores.sort().values[round(target * total) - 1] if target else -1.0
    for name, w in weights.items():
        assert levels[name] == pytest.approx(float((brute_force_lamp(w) <= threshold).double().mean())), name


def test_lamp_keeps_every_layers_largest_weight_where_global_magnitude_empties_a_layer():
    g = torch.Generator().manual_seed(0)
    weights = {"big": 10 * torch.randn(100, generator=g), "small": 0.01 * torch.randn(100, generator=g),
               "mid": torch.randn(100, generator=g)}
    assert unstructured_allocation.global_levels(weights, 0.99)["small"] == 1.0
    levels = unstructured_allocation.lamp_levels(weights, 0.99)
    assert levels == {name: 0.99 for name in weights}  # 3 weights left of 300: one per layer, its largest
    for w in weights.values():
        assert unstructured_allocation.lamp_scores(w).argmax() == w.abs().argmax()
    assert unstructured_allocation.reachable("lamp", weights, None) == 0.99
    lamp = unstructured_allocation.allocate("lamp", 0.5, weights, None)
    assert lamp == unstructured_allocation.lamp_levels(weights, 0.5)
