"""unstructured_sensitivity: each layer of the baseline alone, pruned at each sparsity by
unstructured_prune's criterion (L1 magnitude, or random), accuracy on the validation split -> cached
results, a DVC plot, a line plot, conv1 histograms."""
import copy

import torch

from lib import config, models, plots, stage
from lib.errors import run
from lib.io import save_json, save_torch
from lib.pruning.sensitivity import sweep
from lib.pruning.unstructured import CRITERIA, apply_unstructured

PARAMS = {
    "unstructured_sensitivity": {
        "sparsities": config.levels,
        "include_linear": config.boolean,
        "histogram_sparsity": config.fraction,
    },
    "unstructured_prune": config.Keys(criterion=config.choice(*CRITERIA)),
    "measure": config.MEASURE,
}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--results", "--plot-data", "--figure", "--histogram"],
        PARAMS, splits=("val",))
    p, val = params["unstructured_sensitivity"], data["val"]
    model, _ = models.load_checkpoint(args.model, device)

    layers = models.layer_names(model, p["include_linear"])
    criterion, generator = params["unstructured_prune"]["criterion"], torch.Generator().manual_seed(params["seed"])
    results = sweep(model, layers, p["sparsities"],
                    lambda m, layer, s: apply_unstructured(m, {layer: s}, criterion, generator),
                    val["images"], val["labels"], params["measure"]["batch_size"], device)
    save_torch(results, args.results)
    save_json(plots.accuracy_by_level(results), args.plot_data)
    plots.sensitivity_lines(results, args.figure, "sparsity (fraction of the layer's weights zeroed)",
                            f"Unstructured pruning ({criterion}): per-layer sensitivity (validation)")

    s = p["histogram_sparsity"]
    pruned = apply_unstructured(copy.deepcopy(model), {"conv1": s})
    plots.weight_histograms(models.layer(model, "conv1").weight, models.layer(pruned, "conv1").weight,
                            args.histogram, f"conv1 weights before / after L1 unstructured pruning at sparsity {s}")

    print(f"baseline validation accuracy {results['baseline']['accuracy']:.2f}%")
    for r in results["records"]:
        print(f"{r['layer']:6s} sparsity {r['level']:.2f}: {r['accuracy']:6.2f}%")


if __name__ == "__main__":
    run(main)
