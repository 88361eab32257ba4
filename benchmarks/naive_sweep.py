"""The reference the cached sweep (lib.pruning.sensitivity.sweep) is tested and benchmarked against: every
level of every layer pruned in a copy of the model and the whole network evaluated from scratch
(lib.train.evaluate), with no shared activations."""
import copy

from lib.train import evaluate


def naive_sweep(model, layers, levels, prune, images, labels, batch_size, device):
    """What sweep() returns, by a full forward pass for every layer and level."""
    split = {"images": images.to(device), "labels": labels.to(device)}
    base = copy.deepcopy(model).to(device)
    records = []
    for layer in layers:
        for level in levels:
            pruned = copy.deepcopy(base)
            prune(pruned, layer, level)
            records.append({"layer": layer, "level": level, **evaluate(pruned, split, batch_size, device)})
    return {"baseline": evaluate(base, split, batch_size, device), "records": records}
