import copy
import functools

import pytest
import torch
from torch import nn

from lib import models
from lib.pruning import structured, unstructured
from lib.errors import UserError

SMALL = [8, 16, 16, 16, 32, 32, 32, 32]


def small_model(arch="vgg11_bn", head="cifar", filters=SMALL):
    """A fresh copy of a VGG-11 with random biases and (for batch norm) random affine parameters
    and running statistics, so every copied tensor matters in the comparisons."""
    model, spec = _model(arch, head, tuple(filters))
    return copy.deepcopy(model), copy.deepcopy(spec)


@functools.cache  # models.build takes about a second (torchvision initialises the big default head)
def _model(arch, head, filters):
    torch.manual_seed(0)
    spec = models.architecture(arch, head, filters=list(filters))
    model = models.build(spec)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.bias.normal_(0, 0.1)
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.3)
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(7)
    return model.eval(), spec


# --- unstructured -------------------------------------------------------------------------------

SPARSITIES = {"conv1": 0.3, "conv2": 0.55, "conv5": 0.9, "conv8": 0.77, "fc1": 0.5}


def test_unstructured_prunes_exactly_the_requested_fraction():
    model, _ = small_model()
    unstructured.apply_unstructured(model, SPARSITIES)
    for name, s in SPARSITIES.items():
        layer = models.layer(model, name)
        expected = round(s * layer.weight.numel())
        assert int((layer.weight_mask == 0).sum()) == expected
        assert int((layer.weight == 0).sum()) == expected
    report = unstructured.sparsity(model)
    assert report["layers"]["conv5"] == pytest.approx(round(0.9 * 32 * 32 * 9) / (32 * 32 * 9))
    assert report["layers"]["conv3"] == 0.0
    assert 0 < report["conv_overall"] < 0.9


def test_unstructured_zeros_are_the_smallest_magnitudes():
    model, _ = small_model()
    original = {n: models.layer(model, n).weight.detach().clone() for n in SPARSITIES}
    unstructured.apply_unstructured(model, SPARSITIES)
    for name, w in original.items():
        mask = models.layer(model, name).weight_mask.bool()
        assert w[~mask].abs().max() <= w[mask].abs().min()
        assert torch.equal(models.layer(model, name).weight[mask], w[mask])  # the rest untouched


def test_masks_hold_through_training():
    model, _ = small_model()
    unstructured.apply_unstructured(model, SPARSITIES)
    masks = {n: models.layer(model, n).weight_mask.clone() for n in SPARSITIES}
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    for _ in range(3):
        x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    for name, mask in masks.items():
        weight = models.layer(model, name).weight
        assert torch.all(weight[mask == 0] == 0)
        assert torch.count_nonzero(weight[mask == 1]) == mask.sum()


def test_make_permanent_gives_an_ordinary_state_dict():
    model, spec = small_model()
    unstructured.apply_unstructured(model, SPARSITIES)
    x = torch.randn(2, 3, 32, 32)
    expected = model(x)
    state = unstructured.make_permanent(model).state_dict()
    plain = models.build(spec)
    assert set(state) == set(plain.state_dict())
    plain.load_state_dict(state)
    assert torch.allclose(plain.eval()(x), expected)
    assert int((plain.features[0].weight == 0).sum()) == round(0.3 * plain.features[0].weight.numel())


def test_sparse_export_round_trip_and_size(tmp_path):
    model, _ = small_model(filters=[16, 32, 64, 64, 128, 128, 128, 128])
    unstructured.apply_unstructured(model, {n: 0.9 for n in models.layer_names(model, include_linear=True)})
    state = unstructured.make_permanent(model).state_dict()
    torch.save(state, tmp_path / "dense.pth")
    torch.save(unstructured.to_sparse(state), tmp_path / "sparse.pth")
    loaded = unstructured.from_sparse(torch.load(tmp_path / "sparse.pth", weights_only=True))
    assert set(loaded) == set(state)
    for key, t in state.items():
        assert loaded[key].dtype == t.dtype and loaded[key].shape == t.shape
        assert torch.equal(loaded[key], t), key
    # one bit per weight plus the 10% nonzero values: about (1/8 + 0.4) / 4 = 13% of the dense bytes
    assert (tmp_path / "sparse.pth").stat().st_size < 0.2 * (tmp_path / "dense.pth").stat().st_size


# --- structured ---------------------------------------------------------------------------------

def test_filters_to_keep_drops_the_lowest_l1_filters():
    model, _ = small_model()
    keep = structured.filters_to_keep(model, {"conv2": 0.25, "conv5": 0.5})
    assert len(keep["conv2"]) == 12 and len(keep["conv5"]) == 16
    for name, kept in keep.items():
        assert kept == sorted(kept)
        norms = structured.filter_norms(models.layer(model, name))
        removed = sorted(set(range(len(norms))) - set(kept))
        assert norms[removed].max() <= norms[kept].min()


def test_filters_to_keep_errors_name_layer_ratio_and_count():
    model, _ = small_model()
    with pytest.raises(UserError, match=r"0\.95.*8 filters of conv1"):
        structured.filters_to_keep(model, {"conv1": 0.95})
    with pytest.raises(UserError, match="conv9"):
        structured.filters_to_keep(model, {"conv9": 0.5})
    with pytest.raises(UserError, match="fc1"):
        structured.filters_to_keep(model, {"fc1": 0.5})


RATIOS = {"conv1": 0.25, "conv3": 0.5, "conv4": 0.3, "conv6": 0.6, "conv8": 0.5}


@pytest.mark.parametrize("arch", ["vgg11", "vgg11_bn"])
@pytest.mark.parametrize("head", ["cifar", "imagenet"])
def test_removed_filters_equal_masked_channels(arch, head, tmp_path):
    model, spec = small_model(arch, head)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        original = model(x)
        pruned, new_spec = structured.remove_filters(model, spec, RATIOS)
        masked = structured.mask_filters(copy.deepcopy(model), RATIOS)
        assert torch.equal(model(x), original)  # remove_filters leaves its input alone
        assert not torch.allclose(masked(x), original, atol=1e-3)  # the masking matters
        assert torch.allclose(pruned.eval()(x), masked(x), rtol=1e-4, atol=1e-5)

    assert new_spec["filters"] == [6, 16, 8, 11, 32, 13, 32, 16]
    assert new_spec["arch"] == arch and new_spec["head"] == head
    assert sum(p.numel() for p in pruned.parameters()) < sum(p.numel() for p in model.parameters())

    models.save_checkpoint(tmp_path / "pruned.pth", pruned, new_spec)
    loaded, ckpt = models.load_checkpoint(tmp_path / "pruned.pth")
    assert ckpt["architecture"] == new_spec
    with torch.no_grad():
        assert torch.allclose(loaded(x), masked(x), rtol=1e-4, atol=1e-5)


def test_removal_on_the_full_size_model():
    model, spec = small_model("vgg11_bn", "cifar", filters=models.VGG11_FILTERS)
    ratios = {f"conv{k}": 0.5 for k in range(1, 9)}
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        pruned, new_spec = structured.remove_filters(model, spec, ratios)
        masked = structured.mask_filters(copy.deepcopy(model), ratios)
        assert torch.allclose(pruned.eval()(x), masked(x), rtol=1e-4, atol=1e-5)
    assert new_spec["filters"] == [f // 2 for f in models.VGG11_FILTERS]
    ratio = sum(p.numel() for p in model.parameters()) / sum(p.numel() for p in pruned.parameters())
    assert ratio > 3.5  # halving every layer's filters roughly quarters the conv weights


def test_mask_filters_zeroes_the_channels_after_normalisation():
    model, _ = small_model("vgg11_bn")
    keep = structured.filters_to_keep(model, {"conv2": 0.5})
    structured.mask_filters(model, {"conv2": 0.5})
    removed = sorted(set(range(16)) - set(keep["conv2"]))
    _, index, _ = models.convs(model)[1]
    with torch.no_grad():
        out = model.features[:index + 2](torch.randn(3, 3, 32, 32))  # conv2 -> its batch norm
    assert torch.all(out[:, removed] == 0)
    assert torch.all(out[:, keep["conv2"]].abs().sum(dim=(0, 2, 3)) > 0)


@pytest.mark.parametrize("n,ratio,round_to,kept", [(64, 0.3, 1, 45), (64, 0.3, 8, 48), (64, 0.95, 8, 8),
                                                    (512, 0.5, 8, 256), (100, 0.0, 8, 100), (90, 0.1, 8, 80)])
def test_kept_count_rounds_to_multiples(n, ratio, round_to, kept):
    assert structured.kept_count(n, ratio, round_to) == kept


def test_round_to_keeps_the_highest_norm_filters_in_multiples():
    model, spec = small_model()
    keep = structured.filters_to_keep(model, {"conv5": 0.3, "conv2": 0.6}, round_to=8)
    assert len(keep["conv5"]) == 24 and len(keep["conv2"]) == 8
    norms = structured.filter_norms(models.layer(model, "conv5"))
    dropped = sorted(set(range(32)) - set(keep["conv5"]))
    assert norms[dropped].max() <= norms[keep["conv5"]].min()
    small, arch = structured.remove_filters(model, spec, {"conv5": 0.3}, round_to=8)
    assert arch["filters"][4] == 24 and models.layer(small, "conv5").out_channels == 24


def test_remove_filters_draws_no_random_numbers_and_shares_no_tensor(small_arch):
    """The smaller model is built on the meta device and takes the kept tensors: the global RNG is not
    advanced (no initialisation), and training it leaves the original untouched."""
    from lib.pruning.structured import remove_filters
    torch.manual_seed(0)
    model = models.build(small_arch)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = torch.get_rng_state()
    small, _ = remove_filters(model, small_arch, {"conv2": 0.5})
    assert torch.equal(torch.get_rng_state(), state)
    assert not any(t.is_meta for t in small.state_dict().values())
    with torch.no_grad():
        for t in small.state_dict().values():
            t.add_(1)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
