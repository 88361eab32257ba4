"""unstructured_tradeoff: the accuracy-versus-compression curve of unstructured pruning. At each overall
conv sparsity of tradeoff.unstructured_targets, every allocation (global, uniform, sensitivity) prunes
the baseline one-shot and is scored on the test split; the pruned and fine-tuned variant and the dense
controls are drawn beside the curves -> plot data (a DVC plot) and a figure."""
import copy

from lib import config, models, plots, stage
from lib.errors import run
from lib.io import load_json, save_json
from lib.measure import read_metrics
from lib.pruning import allocation
from lib.pruning.sensitivity import read_results
from lib.pruning.unstructured import apply_unstructured
from lib.pruning.unstructured_allocation import allocator
from lib.train import evaluate

ALLOCATIONS = ("global", "uniform", "sensitivity")
PARAMS = {"tradeoff": config.Keys(unstructured_targets=config.levels), "measure": config.MEASURE}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--results", "--baseline-metrics", "--variant", "--chosen", "--dense-extra",
                  "--plot-data", "--figure"], PARAMS, splits=("test",))
    test = data["test"]
    baseline, _ = models.load_checkpoint(args.model, device)
    results, base = read_results(args.results), read_metrics(args.baseline_metrics)
    variant, dense_extra = read_metrics(args.variant), read_metrics(args.dense_extra)
    chosen = load_json(args.chosen, "chosen-levels report", keys=["allocation", "schedule", "conv_sparsity"])
    convs = models.layer_names(baseline)
    weights = {name: models.layer(baseline, name).weight for name in convs}
    curves = allocation.curves(results, convs)

    allocators = {name: allocator(name, weights, curves) for name in ALLOCATIONS}
    rows = []
    for target in sorted(params["tradeoff"]["unstructured_targets"]):
        row = {"target": target}
        for name, (allocate, reachable) in allocators.items():
            if target <= reachable:  # the sensitivity allocation reaches only the sweep's largest levels
                model = apply_unstructured(copy.deepcopy(baseline), allocate(target))
                row[name] = evaluate(model, test, params["measure"]["batch_size"], device)["accuracy"]
        rows.append(row)
        print(f"sparsity {target:.2f}: " + ", ".join(f"{name} {row[name]:.2f}%" for name in ALLOCATIONS if name in row))
    save_json(rows, args.plot_data)
    label = f"{chosen['allocation']}, {chosen['schedule']} + fine-tune (the variant)"
    plots.tradeoff_figure(rows, ALLOCATIONS, [(label, chosen["conv_sparsity"], variant["test_accuracy"])],
                          [("original", base["test_accuracy"]), ("dense_extra", dense_extra["test_accuracy"])],
                          args.figure, "overall conv sparsity (fraction of conv weights zeroed)",
                          "Unstructured pruning: test accuracy against sparsity")


if __name__ == "__main__":
    run(main)
