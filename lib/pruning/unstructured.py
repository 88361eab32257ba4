"""Unstructured pruning: torch.nn.utils.prune masks on single weights (the smallest magnitudes, or random
ones as the control), their sparsity, and a sparse export (how an overall sparsity is spread over the layers:
lib.pruning.unstructured_allocation). Layers are named as in lib.models: conv1..conv8, fc1..fc3; a sparsity
is the fraction of a layer's weights zeroed.
"""
import copy
import dataclasses

import numpy as np
import torch
from torch.nn.utils import prune

from lib import config, models
from lib.config import setting
from lib.errors import UserError

CRITERIA = ("magnitude", "random")
ALLOCATIONS = ("global", "lamp", "uniform", "sensitivity", "per_layer")


@dataclasses.dataclass(frozen=True)
class UnstructuredPrune:
    """The unstructured_prune section: owned by that stage; its random control reads the schedule, the
    sweep and the trade-off curves the criterion and the recalibration."""
    sparsities: object = setting(config.per_layer)
    target: float = setting(config.optional(config.open_fraction))
    budget: float = setting(config.non_negative_number)
    allocation: str = setting(config.choice(*ALLOCATIONS))
    criterion: str = setting(config.choice(*CRITERIA))
    linear_sparsity: float = setting(config.fraction)
    bn_recalibration_batches: int = setting(config.non_negative_int)
    schedule: str = setting(config.choice("oneshot", "gradual"))
    gradual_initial: float = setting(config.fraction)
    gradual_ramp: float = setting(config.fraction_up_to_one)
    gradual_every: int = setting(config.positive_int)

    def __post_init__(self):
        if self.schedule == "gradual" and self.sparsities == "auto" and self.target is None \
                and self.allocation != "per_layer":
            raise config.Refused("gradual pruning is driven by a target: set target (target: null searches the "
                                 "budget, for one-shot pruning)")


def apply_unstructured(model, sparsities, criterion="magnitude", generator=None):
    """Prune each named layer's weight in place, round(sparsity * weights) of them, keeping the
    weight_orig/weight_mask reparametrisation, so a fine-tune keeps the pruned weights exactly zero.
    magnitude: the smallest |w| (L1 unstructured); random: weights drawn from `generator` (a seeded
    torch.Generator), layer by layer in the order of `sparsities`."""
    if criterion not in CRITERIA:
        raise UserError(f"unknown unstructured criterion '{criterion}'; allowed: {', '.join(CRITERIA)}")
    if criterion == "random" and generator is None:
        raise UserError("the random criterion needs a seeded torch.Generator, for reproducible masks")
    for name, amount in sparsities.items():
        module = models.layer(model, name)
        if criterion == "magnitude":
            prune.l1_unstructured(module, "weight", amount=float(amount))
            continue
        if not 0 <= amount <= 1:
            raise UserError(f"a sparsity is a fraction of the weights in [0, 1]; {name} has {amount}")
        n = module.weight.numel()
        mask = torch.ones(n)
        mask[torch.randperm(n, generator=generator)[:round(amount * n)]] = 0
        prune.custom_from_mask(module, "weight", mask.view_as(module.weight).to(module.weight.device))
    return model


def prune_layer(model, layer, level, criterion="magnitude", generator=None):
    """One layer pruned in place (apply_unstructured): the sweep's pruning."""
    return apply_unstructured(model, {layer: level}, criterion, generator)


def one_shot(model, levels, criterion, seed):
    """A copy of `model` pruned at once to `levels` by `criterion` (random draws from a generator seeded with
    `seed`): what the trade-off curves and the budget search measure, after a batch-norm recalibration
    (lib.batchnorm)."""
    return apply_unstructured(copy.deepcopy(model), levels, criterion, torch.Generator().manual_seed(seed))


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
        size = t.element_size()
        if t.is_floating_point() and t.numel() / 8 + int(nonzero.sum()) * size < t.numel() * size:
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
