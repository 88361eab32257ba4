"""An unstructured variant from its per-layer levels: its masks applied one-shot before its masked
fine-tune, or grown gradually during it; then folded into the weights and saved dense and sparse. What
unstructured_prune and its random-pruning control (unstructured_random) share; each stage runs the
fine-tune itself, between prune() and finish()."""
from typing import NamedTuple

import torch

from lib import models
from lib.io import save_torch
from lib.pruning import gradual
from lib.pruning.unstructured import apply_unstructured, make_permanent, to_sparse


class Growing(NamedTuple):
    """A gradual run under way: its schedule, the hook that applies it, the fixed scores it ranks by
    (None: current magnitudes) and its ramp."""
    levels_at: object
    handle: object
    scores: object
    ramp: gradual.Ramp


def ramp(p, hp, train_size):
    """The gradual Ramp of unstructured_prune's settings `p` over the fine-tune of Recipe `hp` on `train_size`
    images (None for one-shot pruning); refused where it would update the masks fewer than 3 times."""
    if p.schedule != "gradual":
        return None
    return gradual.ramp_of(p.gradual_initial, p.gradual_ramp, p.gradual_every,
                           hp.epochs * (train_size // hp.batch_size))


def prune(model, levels, criterion, ramp_, seed, global_target=None):
    """Prune `model` (a copy of the baseline) in place to `levels` ({layer: level}, the Linear layers' first)
    by `criterion` (magnitude or random). One-shot (no `ramp_`): every mask now, held through the fine-tune;
    gradual: the Linear layers' masks throughout, the conv layers' growing during the fine-tune on `ramp_`
    (one magnitude threshold over the convs at each step with `global_target`, else each layer on its own
    ramp). Random draws (the random criterion, whose scores are drawn once, so its masks grow as magnitude's
    do) come from a generator seeded with `seed`. Returns what finish() needs."""
    generator = torch.Generator().manual_seed(seed)
    if ramp_ is None:
        apply_unstructured(model, levels, criterion, generator)
        return None
    convs = models.layer_names(model)
    fixed = {n: level for n, level in levels.items() if n not in convs}
    final = {n: level for n, level in levels.items() if n in convs}
    device = next(model.parameters()).device
    scores = None if criterion == "magnitude" else {
        n: torch.rand(models.layer(model, n).weight.shape, generator=generator).to(device) for n in levels}
    levels_at = gradual.schedule(model, final, fixed, ramp_, global_target if scores is None else None)
    return Growing(levels_at, gradual.attach(model, levels_at, ramp_.every, scores), scores, ramp_)


def finish(model, growing):
    """The final masks of a gradual run (however many steps ran), then every mask folded into its weight."""
    if growing is not None:
        growing.handle.remove()
        gradual.prune_to(model, growing.levels_at(growing.ramp.steps), growing.scores)
    return make_permanent(model)


def save_sparse(model, arch, path):
    """The pruned model in its sparse export (lib.pruning.unstructured.to_sparse) at `path`."""
    save_torch({"architecture": arch, "sparse_state_dict": to_sparse(model.state_dict())}, path)
