"""Unstructured magnitude pruning (torch.nn.utils.prune masks), a sparse export, and structured
filter pruning: rank a conv layer's filters by L1 norm, then either zero the lowest ones in place
(mask_filters) or build a physically smaller VGG-11 without them (remove_filters).

Layers are named as in lib.models: conv1..conv8, fc1..fc3. Ratios and sparsities are fractions
of a layer's weights (or filters): round(fraction * count) of them are pruned.
"""
import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune

from lib import models
from lib.errors import UserError


# --- unstructured -------------------------------------------------------------------------------

def apply_unstructured(model, sparsities):
    """L1-magnitude prune each named layer's weight in place, keeping the weight_orig/weight_mask
    reparametrisation, so a fine-tune keeps the pruned weights exactly zero."""
    for name, amount in sparsities.items():
        prune.l1_unstructured(models.layer(model, name), "weight", amount=float(amount))
    return model


def make_permanent(model):
    """Fold every pruning mask into its weight, so the state_dict is an ordinary one again."""
    for module in model.modules():
        for tensor_name in ("weight", "bias"):
            if hasattr(module, tensor_name + "_orig"):
                prune.remove(module, tensor_name)
    return model


def sparsity(model):
    """{"layers": {name: fraction of the weight that is zero}, "conv_overall": the same over all
    conv weights together}."""
    weights = {name: m.weight.detach() for name, _, m in models.convs(model) + models.linears(model)}
    convs = [w for name, w in weights.items() if name.startswith("conv")]
    zeros = sum(int((w == 0).sum()) for w in convs)
    return {"layers": {name: float((w == 0).float().mean()) for name, w in weights.items()},
            "conv_overall": zeros / sum(w.numel() for w in convs)}


def to_sparse(state_dict):
    """Plain-data sparse form of a state_dict: a tensor becomes {"shape", "mask" (one bit per
    element, packed into uint8 with numpy.packbits), "values" (the nonzeros in order)} when that is
    smaller than the dense tensor, else {"dense": tensor}. At density d a float32 tensor costs
    1/8 + 4d bytes per element instead of 4. Save it with torch.save; it loads with
    torch.load(weights_only=True)."""
    out = {}
    for key, t in state_dict.items():
        t = t.detach().cpu()
        flat = t.reshape(-1)
        nonzero = flat != 0
        if t.is_floating_point() and t.numel() / 8 + int(nonzero.sum()) * t.element_size() < t.numel() * t.element_size():
            out[key] = {"shape": list(t.shape), "mask": torch.from_numpy(np.packbits(nonzero.numpy())),
                        "values": flat[nonzero].clone()}
        else:
            out[key] = {"dense": t.clone()}
    return out


def from_sparse(sparse):
    """The exact inverse of to_sparse: an ordinary state_dict."""
    state = {}
    for key, entry in sparse.items():
        if "dense" in entry:
            state[key] = entry["dense"]
        else:
            numel = torch.Size(entry["shape"]).numel()
            mask = torch.from_numpy(np.unpackbits(entry["mask"].numpy(), count=numel).astype(bool))
            flat = torch.zeros(numel, dtype=entry["values"].dtype)
            flat[mask] = entry["values"]
            state[key] = flat.view(entry["shape"])
    return state


# --- structured ---------------------------------------------------------------------------------

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
    for k, (name, index, conv) in enumerate(layers):
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
