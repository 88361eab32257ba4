"""unstructured_sensitivity: each layer of the baseline alone, pruned at each sparsity by
unstructured_prune's criterion (L1 magnitude, or random), its batch-norm statistics re-estimated on
training batches (unstructured_prune.bn_recalibration_batches), accuracy on the validation split before
and after that -> cached results, a DVC plot, and the data of the sensitivity and conv1-histogram figures
(stage figures)."""
import copy
import dataclasses
import functools

import torch

from lib import config, models, stage
from lib.config import setting
from lib.batchnorm import Recalibration
from lib.errors import run
from lib.io import save_json, save_torch
from lib.pruning.sensitivity import sweep
from lib.pruning.sweep_results import accuracy_by_level
from lib.pruning.unstructured import UnstructuredPrune, prune_layer
from lib.train import Recipe


@dataclasses.dataclass(frozen=True)
class UnstructuredSensitivity:
    sparsities: list = setting(config.levels)
    include_linear: bool = setting(config.boolean)
    histogram_sparsity: float = setting(config.fraction)


PARAMS = {**stage.COMMON, "unstructured_sensitivity": UnstructuredSensitivity,
          "unstructured_prune": config.part(UnstructuredPrune, "criterion", "bn_recalibration_batches"),
          "finetune": config.part(Recipe, "batch_size")}  # of the batch-norm recalibration batches


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--results", "--plot-data", "--figure-data"], PARAMS, splits=("train", "val"))
    p, criterion = params.unstructured_sensitivity, params.unstructured_prune.criterion
    recalibration = Recalibration(data["train"], params.unstructured_prune.bn_recalibration_batches,
                                  params.finetune.batch_size, params.seed)
    model, _ = models.load_checkpoint(args.model, device)

    layers = models.layer_names(model, p.include_linear)
    prune = functools.partial(prune_layer, criterion=criterion, generator=torch.Generator().manual_seed(params.seed))
    results = sweep(model, {layer: p.sparsities for layer in layers}, prune, data["val"], params.measure.batch_size,
                    recalibration)
    save_torch(results, args.results)
    save_json(accuracy_by_level(results), args.plot_data)

    s = p.histogram_sparsity
    pruned = prune_layer(copy.deepcopy(model), "conv1", s)  # by L1 magnitude, as in the notebooks' figure
    save_json({"title": f"Unstructured pruning ({criterion}): per-layer sensitivity (validation)",
               "xlabel": "sparsity (fraction of the layer's weights zeroed)",
               "histogram": {"layer": "conv1", "zeroed": torch.nonzero(models.layer(pruned, "conv1").weight.flatten()
                                                                       == 0).flatten().tolist(),
                             "title": f"conv1 weights before / after L1 unstructured pruning at sparsity {s}"}},
              args.figure_data)
    print(f"baseline validation accuracy {results['baseline']['accuracy']:.2f}%")
    for r in results["records"]:
        print(f"{r['layer']:6s} sparsity {r['level']:.2f}: {r['accuracy']:6.2f}%" + (
            f" ({r['accuracy_before_recalibration']:6.2f}% before batch-norm recalibration)"
            if "accuracy_before_recalibration" in r else ""))


if __name__ == "__main__":
    run(main)
