"""The sensitivity sweep both pruning analyses share: prune one layer of a copy of the baseline at
each level, evaluate, and record (layer, level, accuracy, loss). The baseline is never touched.

Speed: VGG's features are a chain, so what enters the pruned layer does not depend on the level.
sweep() computes those activations once per layer (advancing one cache from layer to layer; with a
batch-norm recalibration, of the training batches too) and runs only the rest of the network for each
level; each level is scored by lib.train.score, the
evaluation everything else uses (same autocast policy). benchmarks/naive_sweep.py, which evaluates
the whole pruned network every time, is the reference for the tests and the benchmark.

`prune(model, layer, level)` mutates the copy it is given and may change only that layer and what
follows it: lib.pruning.unstructured.prune_layer, lib.pruning.structured.mask_layer (each given its
criterion with functools.partial).
Accuracies are in percent, losses are mean cross-entropy; drops are in percentage points.
"""
import copy
import functools

import torch
from tqdm import tqdm

from lib import models
from lib.batchnorm import has_batchnorm, recalibrate_batchnorm, reestimate, training_batches
from lib.data import batches
from lib.precision import autocast
from lib.train import score


def _start(model, layer):
    """Index into model.features where the named layer's computation starts (len(features) for
    the classifier's layers: the features' output is their input)."""
    return {name: index for name, index, _ in models.convs(model)}.get(layer, len(model.features))


def _pruned(model, layer, level, prune):
    pruned = copy.deepcopy(model)
    prune(pruned, layer, level)
    return pruned.eval()


def _statistics_of(model, source, end):
    """Set the batch-norm running statistics of model.features[:end] to those of source.features[:end]."""
    pairs = zip(model.features[:end].modules(), source.features[:end].modules())
    for mine, theirs in [(a, b) for a, b in pairs if isinstance(a, torch.nn.modules.batchnorm._BatchNorm)]:
        mine.running_mean.copy_(theirs.running_mean)
        mine.running_var.copy_(theirs.running_var)


@torch.inference_mode()
def sweep(model, grid, prune, split, batch_size, recalibration=None):
    """{"baseline": {"accuracy", "loss"}, "records": [{"layer", "level", "accuracy", "loss"}, ...]} for each
    layer and level of `grid` ({layer: its levels}), in its order, scored on `split` in batches of
    `batch_size` (cached activations; see the module doc). With a `recalibration` (lib.batchnorm) of
    batch-norm statistics, each pruned model is scored after it (as recalibrate_batchnorm would leave the
    whole model), and each record also holds accuracy_before_recalibration and loss_before_recalibration."""
    for layer in grid:
        models.layer(model, layer)  # an unknown name fails before any work
    device = split["labels"].device
    base = copy.deepcopy(model).to(device).eval()
    recalibrating = recalibration is not None and recalibration.batches > 0 and has_batchnorm(base)
    # Recalibrated, a pruned copy has the statistics the baseline gets from the same batches up to its pruned
    # layer (`reference`), and from there the ones its own layers give the batches that reach them (`train`:
    # the training batches as they enter the pruned layer, computed in train mode by a copy of the baseline,
    # `trainer`, whose statistics nothing reads).
    reference = recalibrate_batchnorm(copy.deepcopy(base), recalibration) if recalibrating else base
    trainer = copy.deepcopy(base).train()
    train = [x for x, _ in training_batches(recalibration)] if recalibrating else []
    val = list(batches(split["images"], split["labels"], batch_size))  # input of features[0]
    caches = {"before": val, "after": val}
    position, results = 0, {}
    baseline = score(base, val, device)
    progress = tqdm(total=sum(map(len, grid.values())), desc="sensitivity", leave=False, disable=None)
    for layer in sorted(grid, key=lambda name: _start(base, name)):
        start = _start(base, layer)
        with autocast(device):  # the activations a whole forward pass would compute, same precision
            caches = {"before": [(base.features[position:start](x), y) for x, y in caches["before"]],
                      "after": [(reference.features[position:start](x), y) for x, y in caches["after"]]}
        train = [trainer.features[position:start](x) for x in train]  # in fp32, as recalibrate_batchnorm
        position = start
        for level in grid[layer]:
            pruned = _pruned(base, layer, level, prune)
            before = score(functools.partial(_rest, pruned, start), caches["before"], device)
            if recalibrating:
                _statistics_of(pruned, reference, start)
                reestimate(pruned.features[start:], [(x, None) for x in train])
                after = score(functools.partial(_rest, pruned.eval(), start), caches["after"], device)
                results[layer, level] = {**after, "accuracy_before_recalibration": before["accuracy"],
                                         "loss_before_recalibration": before["loss"]}
            else:
                results[layer, level] = before
            progress.set_postfix(layer=layer, level=level)
            progress.update()
    progress.close()
    return {"baseline": baseline,
            "records": [{"layer": layer, "level": level, **results[layer, level]}
                        for layer, levels in grid.items() for level in levels]}


def _rest(model, start, activations):
    """What a forward pass of `model` computes from features[start:] on."""
    return models.head_forward(model, model.features[start:](activations))
