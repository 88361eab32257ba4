"""How an overall conv sparsity (the fraction of all conv weights zeroed) is spread over the layers:
one global magnitude threshold, one global threshold on LAMP scores, the same sparsity everywhere, or the
sensitivity allocation (lib.pruning.allocation, the engine both families share)."""
import functools

import torch

from lib.pruning import allocation


def global_levels(weights, target):
    """{layer: fraction of its weights zeroed} when the round(target * total) smallest-magnitude weights
    of all `weights` ({layer: tensor}) together are zeroed: one threshold for the whole model (what
    torch.nn.utils.prune.global_unstructured does, expressed as per-layer levels; ties broken by
    order, so the count is exact)."""
    flat = torch.cat([w.detach().abs().flatten().cpu() for w in weights.values()]).nan_to_num(nan=float("inf"))
    k = round(target * len(flat))  # (a NaN counts as the largest magnitude, as in a sort)
    zeroed = torch.zeros_like(flat, dtype=torch.bool)
    if k:  # the k smallest: all below the k-th smallest value, then the first of its ties (a stable sort's k)
        kth = flat.kthvalue(k).values
        zeroed = flat < kth
        ties = (flat == kth).nonzero().flatten()
        zeroed[ties[:k - int(zeroed.sum())]] = True
    pruned = [int(part.sum()) for part in zeroed.split([w.numel() for w in weights.values()])]
    return {layer: c / w.numel() for (layer, w), c in zip(weights.items(), pruned)}


def lamp_scores(weight):
    """LAMP score of each weight, in its shape (Lee et al. 2021, "Layer-adaptive sparsity for the
    magnitude-based pruning"): w_u^2 over the sum of w_v^2 for the layer's weights v from u up in
    ascending magnitude order (suffix sums of the sorted squares, in float64; a weight that is 0 with
    only zeros above it scores 0). The layer's largest weight scores 1, the most any weight can."""
    squares = weight.detach().flatten().cpu().double() ** 2
    sorted_squares, order = squares.sort(stable=True)
    suffix = sorted_squares.flip(0).cumsum(0).flip(0)
    scores = torch.empty_like(squares)
    scores[order] = torch.where(suffix > 0, sorted_squares / suffix, 0.0)
    return scores.view(weight.shape)


def lamp_levels(weights, target):
    """{layer: fraction of its weights zeroed} when the round(target * total) lowest LAMP scores of all
    `weights` ({layer: tensor}) together are zeroed (one threshold on the scores, ties broken by order
    as in global_levels, so the count is exact). A layer's largest weight is pruned last: every layer
    keeps at least one weight while fewer weights are zeroed than there are outside the layers' largest."""
    return global_levels({layer: lamp_scores(w) for layer, w in weights.items()}, target)


def conv_sparsity(weights, levels):
    """The resource of unstructured pruning: the fraction of all conv weights ({layer: tensor}) that
    per-layer levels zero."""
    total = sum(w.numel() for w in weights.values())
    return sum(levels.get(n, 0.0) * w.numel() for n, w in weights.items()) / total


def reachable(method, weights, curves_):
    """The largest overall conv sparsity the allocation `method` reaches: the sensitivity allocation, only
    the sweep's tested levels."""
    if method == "sensitivity":
        return conv_sparsity(weights, {n: max(curves_[n][0]) for n in weights})
    return 0.99


def allocate(method, target, weights, curves_):
    """{conv: sparsity} reaching the overall conv sparsity `target` by the allocation `method` (global, lamp,
    uniform or sensitivity; `curves_`: the sweep's, lib.pruning.allocation.curves)."""
    if method == "global":
        return global_levels(weights, target)
    if method == "lamp":
        return lamp_levels(weights, target)
    resource = functools.partial(conv_sparsity, weights)
    if method == "uniform":
        return allocation.uniform(list(weights), resource, target, hi=0.999)
    return allocation.sensitivity(curves_, resource, target)
