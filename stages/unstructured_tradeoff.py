"""unstructured_tradeoff: the accuracy-versus-compression curve of unstructured pruning. At each overall
conv sparsity of tradeoff.unstructured_targets, every allocation (global, LAMP, uniform, sensitivity)
prunes the baseline one-shot by the variant's criterion and is scored on the test split; the pruned and
fine-tuned variant, its random-pruning control and the dense controls are drawn beside the curves ->
plot data (a DVC plot) and a figure."""
import copy

import torch

from lib import config, models, plots, stage
from lib.errors import run
from lib.io import load_json, save_json
from lib.measure import read_metrics
from lib.pruning import study
from lib.pruning.unstructured import CRITERIA, apply_unstructured
from lib.pruning.unstructured_allocation import allocator
from lib.train import evaluate

ALLOCATIONS = ("global", "lamp", "uniform", "sensitivity")
PARAMS = {"tradeoff": config.Keys(unstructured_targets=config.levels),
          "unstructured_prune": config.Keys(criterion=config.choice(*CRITERIA)), "measure": config.MEASURE}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--results", "--baseline-metrics", "--variant", "--random", "--chosen",
                  "--dense-extra", "--plot-data", "--figure"], PARAMS, splits=("test",))
    base = study.baseline(args, device)
    variant, random, dense_extra = map(read_metrics, (args.variant, args.random, args.dense_extra))
    chosen = load_json(args.chosen, "chosen-levels report", keys=["allocation", "schedule", "conv_sparsity"])
    weights = {name: models.layer(base.model, name).weight for name in base.convs}

    def score(name, levels):  # one-shot, by the variant's criterion, on the test split
        model = apply_unstructured(copy.deepcopy(base.model), levels, params["unstructured_prune"]["criterion"],
                                   torch.Generator().manual_seed(params["seed"]))
        return {name: evaluate(model, data["test"], params["measure"]["batch_size"], device)["accuracy"]}

    allocators = {name: allocator(name, weights, base.curves) for name in ALLOCATIONS}
    rows = study.tradeoff(params["tradeoff"]["unstructured_targets"], allocators, score, "sparsity")
    save_json(rows, args.plot_data)
    label = f"{chosen['allocation']}, {chosen['schedule']} + fine-tune (the variant)"
    plots.tradeoff_figure(rows, ALLOCATIONS, [(label, chosen["conv_sparsity"], variant["test_accuracy"]),
                                              ("random weights at its levels (control)", random["conv_sparsity"],
                                               random["test_accuracy"])],
                          [("original", base.metrics["test_accuracy"]), ("dense_extra", dense_extra["test_accuracy"])],
                          args.figure, "overall conv sparsity (fraction of conv weights zeroed)",
                          "Unstructured pruning: test accuracy against sparsity")


if __name__ == "__main__":
    run(main)
