"""The reference the cached sweep (lib.pruning.sensitivity.sweep) is tested and benchmarked against: every
level of every layer pruned in a copy of the model and the whole network evaluated from scratch
(lib.train.evaluate), with no shared activations."""
import copy

from lib.train import evaluate


def naive_sweep(model, grid, prune, split, batch_size):
    """What sweep() returns, by a full forward pass for every layer and level of `grid`."""
    base = copy.deepcopy(model).to(split["labels"].device)
    records = []
    for layer, levels in grid.items():
        for level in levels:
            pruned = copy.deepcopy(base)
            prune(pruned, layer, level)
            records.append({"layer": layer, "level": level, **evaluate(pruned, split, batch_size)})
    return {"baseline": evaluate(base, split, batch_size), "records": records}
