"""Structured filter pruning: rank a conv layer's filters by L1 norm, then either zero the lowest ones in
place (mask_filters) or build a physically smaller VGG-11 without them (remove_filters) (how a reduction of
MACs or parameters is spread over the layers: lib.pruning.structured_allocation). Layers are named
as in lib.models; a ratio is the fraction of a layer's filters removed: round(ratio * count) of them.
"""
import torch
from torch import nn

from lib import models
from lib.errors import UserError


def filter_norms(conv):
    """L1 norm of each output filter of a Conv2d."""
    return conv.weight.detach().abs().sum(dim=(1, 2, 3))


def check_round_to(filters, names, round_to):
    """Refuse a `round_to` larger than a layer's filter count: counts are rounded to its multiples, and such
    a layer has fewer filters than one multiple. (A layer of exactly round_to filters keeps them all.)"""
    short = [f"{name} ({n})" for name, n in zip(names, filters) if n < round_to]
    if short:
        raise UserError(f"{round_to} is larger than the filter count of {', '.join(short)}: filter counts are rounded "
                        f"to multiples of round_to, and such a layer has fewer filters than one multiple; use a "
                        f"round_to of at most {min(filters)} (1 keeps counts exact)")


def kept_count(n, ratio, round_to=1):
    """Filters a layer of `n` keeps when a fraction `ratio` is removed: n - round(ratio * n), then, if
    any is removed, rounded to the nearest multiple of `round_to` (at least `round_to`, at most n)."""
    kept = n - round(ratio * n)
    if round_to > 1 and kept < n:
        kept = min(n, max(round_to, round_to * round(kept / round_to)))
    return kept


def filters_to_keep(model, ratios, round_to=1):
    """{conv name: sorted indices of the filters kept} when the lowest-L1 filters of each named conv
    layer are removed, kept_count(filters, ratio, round_to) of them staying. Call it with the largest
    ratios up front to stop a stage before any work."""
    keep = {}
    for name, ratio in ratios.items():
        conv = models.layer(model, name)
        if not isinstance(conv, nn.Conv2d):
            raise UserError(f"structured pruning removes conv filters; {name} is not a conv layer")
        n = conv.out_channels
        removed = round(ratio * n)
        if not 0 <= ratio < 1 or removed >= n:
            raise UserError(f"removing a fraction {ratio} of the {n} filters of {name} would leave "
                            f"{n - removed} filters; use a ratio in [0, 1) that keeps at least one "
                            f"(at most {n - 1} of its {n} filters removed)")
        order = torch.argsort(filter_norms(conv), stable=True)
        keep[name] = sorted(order[n - kept_count(n, ratio, round_to):].tolist())
    return keep


def _bn_after(model, index):
    """The BatchNorm2d right after features[index], or None."""
    following = model.features[index + 1]
    return following if isinstance(following, nn.BatchNorm2d) else None


def mask_filters(model, ratios):
    """Zero, in place, the filters filters_to_keep would remove: their weights and bias, and the
    following batch norm's weight and bias, so those channels are exactly 0 after normalisation."""
    keep = filters_to_keep(model, ratios)
    with torch.no_grad():
        for name, index, conv in models.convs(model):
            if name not in keep:
                continue
            removed = sorted(set(range(conv.out_channels)) - set(keep[name]))
            for module in (conv, _bn_after(model, index)):
                if module is not None:
                    module.weight[removed] = 0
                    module.bias[removed] = 0
    return model


def remove_filters(model, arch, ratios, round_to=1):
    """(new model, new arch): a VGG-11 built by models.build with the reduced filter counts, holding
    what remains of `model` (an ordinary one, without pruning masks): the kept filters, biases and
    batch-norm parameters and statistics, the next conv's matching input channels, and the
    classifier's matching input features (a channel is a block of 1 feature in the `cifar` head and
    of 7x7 in the `imagenet` head)."""
    keep = filters_to_keep(model, ratios, round_to=round_to)
    layers = models.convs(model)
    kept = [torch.tensor(keep.get(name, range(conv.out_channels))) for name, _, conv in layers]
    new_arch = {**arch, "filters": [len(k) for k in kept]}

    slices = {}  # state_dict key -> [(dim, indices kept along it)]
    for k, (_, index, _) in enumerate(layers):
        slices[f"features.{index}.weight"] = [(0, kept[k])] + ([(1, kept[k - 1])] if k else [])
        slices[f"features.{index}.bias"] = [(0, kept[k])]
        if _bn_after(model, index) is not None:
            for p in ("weight", "bias", "running_mean", "running_var"):
                slices[f"features.{index + 1}.{p}"] = [(0, kept[k])]
    _, first, fc = models.linears(model)[0]
    block = fc.in_features // layers[-1][2].out_channels  # input features per channel: 1 or 7*7
    columns = (kept[-1][:, None] * block + torch.arange(block)).flatten()
    slices[f"classifier.{first}.weight"] = [(1, columns)]

    state = {}
    for key, t in model.state_dict().items():
        for dim, idx in slices.get(key, []):
            t = t.index_select(dim, idx.to(t.device))
        state[key] = t
    new = models.build(new_arch)
    new.load_state_dict(state)
    device = next(model.parameters()).device
    return new.to(device).train(model.training), new_arch
