"""Gradual magnitude pruning (Zhu & Gupta 2017, "To prune, or not to prune"): during training the
sparsity rises from an initial to the final level on a cubic schedule,

    s_t = s_f + (s_i - s_f) * (1 - t / ramp)^3,   t = 0, every, 2*every, ... <= ramp,

the masks recomputed from the current weight magnitudes at each of those steps (the weights already
pruned have magnitude 0, so masks only grow) and held in between, so pruned weights stay exactly
zero; after `ramp` steps training goes on at the final sparsity. Masks are torch.nn.utils.prune's:
each update L1-prunes the needed number of the smallest remaining weights.
"""
from typing import NamedTuple

import torch
from torch.nn.utils import prune

from lib import models
from lib.errors import UserError
from lib.pruning.unstructured_allocation import global_levels


def cubic(step, final, initial, ramp, every):
    """The scheduled sparsity at training step `step` (updated only at multiples of `every`)."""
    if ramp <= 0:
        return final
    t = min(step - step % every, ramp) / ramp
    return final + (min(initial, final) - final) * (1 - t) ** 3


def zeros(module):
    return int((module.weight_mask == 0).sum()) if hasattr(module, "weight_mask") else 0


def prune_to(model, levels, scores=None):
    """Raise each named layer to round(level * weights) masked weights by pruning the lowest-ranked of
    its remaining ones: by their current magnitudes, or by fixed `scores` ({layer: tensor shaped like
    its weight}; e.g. random ones, for a random-pruning control) (a level below the current one
    changes nothing: masks only grow)."""
    current = scores or effective_weights(model, levels)  # torch would rank the weight of the last forward pass
    for name, level in levels.items():
        module = models.layer(model, name)
        extra = round(level * module.weight.numel()) - zeros(module)
        if extra > 0:
            prune.l1_unstructured(module, "weight", amount=extra, importance_scores=current[name].detach())
    return model


def effective_weights(model, layers):
    """{layer: the weight a forward pass uses now} (weight_orig * mask for a pruned layer)."""
    out = {}
    for name in layers:
        module = models.layer(model, name)
        out[name] = module.weight_orig * module.weight_mask if hasattr(module, "weight_mask") else module.weight
    return out


def attach(model, levels_at, every, scores=None):
    """Before training steps 0, every, 2*every, ... (forward passes in train mode with gradients),
    prune the model to levels_at(step). A forward pre-hook, as torch.nn.utils.prune's masks are, so
    any training loop drives it; returns the handle (handle.remove() stops it)."""
    state = {"step": 0}

    def hook(module, args):
        if module.training and torch.is_grad_enabled():
            if state["step"] % every == 0:
                prune_to(model, levels_at(state["step"]), scores)
            state["step"] += 1

    return model.register_forward_pre_hook(hook)


class Ramp(NamedTuple):
    """A cubic schedule in training steps: the sparsity rises from `initial` over the first `steps` steps,
    masks updated every `every` steps."""
    initial: float
    steps: int
    every: int


def ramp_of(initial, fraction, every, steps):
    """The Ramp over `fraction` of a fine-tune's `steps` training steps; refused when it would update the masks
    fewer than 3 times."""
    ramp = Ramp(initial, round(fraction * steps), every)
    if ramp.steps < 2 * every:
        raise UserError(f"{every} leaves fewer than 3 mask updates in the {ramp.steps} steps of the schedule's ramp "
                        f"({steps} training steps); lower it, or lengthen the ramp or the fine-tune")
    return ramp


def schedule(model, final, fixed, ramp, global_target=None):
    """levels_at(step) of a gradual run of `model` on `ramp`: each layer of `final` ({layer: level}) on its
    own cubic ramp, or with `global_target`, one magnitude threshold over those layers' current weights at
    the scheduled overall sparsity (global allocation); the `fixed` levels throughout."""
    def levels_at(step):
        if global_target is None:
            return {**fixed, **{n: cubic(step, s, ramp.initial, ramp.steps, ramp.every) for n, s in final.items()}}
        overall = cubic(step, global_target, ramp.initial, ramp.steps, ramp.every)
        return {**fixed, **global_levels(effective_weights(model, final), overall)}
    return levels_at
