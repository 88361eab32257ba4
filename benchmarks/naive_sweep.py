"""The reference the cached sweep (lib.pruning.sensitivity.sweep) is tested and benchmarked against: every
level of every layer pruned in a copy of the model and the whole network evaluated from scratch
(lib.train.evaluate), with no shared activations; with a recalibration, the whole pruned copy
recalibrated (lib.batchnorm.recalibrate_batchnorm) and evaluated again."""
import copy

from lib.batchnorm import recalibrate_batchnorm
from lib.train import evaluate


def naive_sweep(model, grid, prune, split, batch_size, recalibration=None):
    """What sweep() returns, by a full forward pass for every layer and level of `grid`."""
    base = copy.deepcopy(model).to(split["labels"].device)
    records = []
    for layer, levels in grid.items():
        for level in levels:
            pruned = copy.deepcopy(base)
            prune(pruned, layer, level)
            record = {"layer": layer, "level": level, **evaluate(pruned, split, batch_size)}
            if recalibration is not None and recalibration.batches:
                before = {f"{key}_before_recalibration": value for key, value in record.items() if key != "layer"
                          and key != "level"}
                record.update(evaluate(recalibrate_batchnorm(pruned, recalibration), split, batch_size), **before)
            records.append(record)
    return {"baseline": evaluate(base, split, batch_size), "records": records}
