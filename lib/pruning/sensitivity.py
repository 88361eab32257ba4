"""The sensitivity sweep both pruning analyses share: prune one layer of a copy of the baseline at
each level, evaluate, and record (layer, level, accuracy, loss). The baseline is never touched.

Speed: VGG's features are a chain, so what enters the pruned layer does not depend on the level.
sweep() computes those activations once per layer (advancing one cache from layer to layer) and
runs only the rest of the network for each level; each level is scored by lib.train.score, the
evaluation everything else uses (same autocast policy). benchmarks/naive_sweep.py, which evaluates
the whole pruned network every time, is the reference for the tests and the benchmark.

`prune(model, layer, level)` mutates the copy it is given and may change only that layer and what
follows it, e.g.
    lambda m, layer, s: unstructured.apply_unstructured(m, {layer: s})
    lambda m, layer, r: structured.mask_filters(m, {layer: r})
Accuracies are in percent, losses are mean cross-entropy; drops are in percentage points.
"""
import copy

import torch
from tqdm import tqdm

from lib import models
from lib.data import batches
from lib.errors import UserError
from lib.io import load_json, load_torch
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


def _progress(layers, levels):
    return tqdm(total=len(layers) * len(levels), desc="sensitivity", leave=False, disable=None)


@torch.inference_mode()
def sweep(model, layers, levels, prune, images, labels, batch_size, device):
    """{"baseline": {"accuracy", "loss"}, "records": [{"layer", "level", "accuracy", "loss"}, ...]}
    with records in the order of `layers` x `levels` (cached activations; see the module doc)."""
    for layer in layers:
        models.layer(model, layer)  # an unknown name fails before any work
    base = copy.deepcopy(model).to(device).eval()
    cache = list(batches(images.to(device), labels.to(device), batch_size))  # input of features[0]
    position, results = 0, {}
    baseline = score(base, cache, device)
    progress = _progress(layers, levels)
    for layer in sorted(layers, key=lambda name: _start(base, name)):
        start = _start(base, layer)
        with autocast(device):  # the activations a whole forward pass would compute, same precision
            cache = [(base.features[position:start](x), y) for x, y in cache]
        position = start
        for level in levels:
            pruned = _pruned(base, layer, level, prune)
            results[layer, level] = score(lambda h, m=pruned, s=start: models.head_forward(m, m.features[s:](h)),
                                          cache, device)
            progress.set_postfix(layer=layer, level=level)
            progress.update()
    progress.close()
    return {"baseline": baseline,
            "records": [{"layer": layer, "level": level, **results[layer, level]}
                        for layer in layers for level in levels]}


def read_results(path):
    """A sweep's results from `path` (.pth as written by unstructured_sensitivity, else JSON), checked."""
    load = load_torch if path.endswith(".pth") else load_json
    results = load(path, "sensitivity results")
    ok = (isinstance(results, dict) and isinstance(results.get("baseline"), dict) and "accuracy" in results["baseline"]
          and isinstance(results.get("records"), list)
          and all(isinstance(r, dict) and {"layer", "level", "accuracy"} <= set(r) for r in results["records"]))
    if not ok:
        raise UserError(f"{path} is not a sensitivity results file of this project: expected {{'baseline': "
                        "{'accuracy', 'loss'}, 'records': [{'layer', 'level', 'accuracy', 'loss'}, ...]}, as the "
                        "sensitivity stages write")
    return results
