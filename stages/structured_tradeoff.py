"""structured_tradeoff: the accuracy-versus-compression curve of structured pruning. At each MAC (or
parameter, structured_prune.target_kind) reduction of tradeoff.structured_targets, every allocation
(uniform, sensitivity) removes filters from the baseline one-shot, batch norm recalibrated, and is scored
on the test split; the structured variant before and after its recovery fine-tune and the controls are
drawn beside the curves -> plot data (a DVC plot) and a figure."""
import torch

from lib import config, cost, models, plots, stage
from lib.batchnorm import recalibrate_batchnorm
from lib.errors import param, run
from lib.io import save_json
from lib.measure import read_metrics
from lib.pruning import allocation
from lib.pruning.sensitivity import read_results
from lib.pruning.structured import check_round_to, remove_filters
from lib.pruning.structured_allocation import allocator
from lib.train import evaluate

ALLOCATIONS = ("uniform", "sensitivity")
PARAMS = {
    "tradeoff": config.Keys(structured_targets=config.levels),
    "structured_prune": config.Keys(target_kind=config.choice("macs", "params"), round_to=config.positive_int,
                                    bn_recalibration_batches=config.non_negative_int),
    "finetune": config.keys(config.FINETUNE, "batch_size"),
    "measure": config.MEASURE,
}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--results", "--baseline-metrics", "--pruned", "--finetuned", "--dense-extra",
                  "--scratch", "--plot-data", "--figure"], PARAMS, splits=("train", "test"))
    p, train, test = params["structured_prune"], data["train"], data["test"]
    baseline, ckpt = models.load_checkpoint(args.model, device)
    results, base = read_results(args.results), read_metrics(args.baseline_metrics)
    pruned, finetuned, dense_extra, scratch = map(read_metrics, (args.pruned, args.finetuned, args.dense_extra,
                                                                  args.scratch))
    arch, convs = ckpt["architecture"], models.layer_names(baseline)
    curves = allocation.curves(results, convs)
    with param("structured_prune.round_to"):
        check_round_to(arch["filters"], convs, p["round_to"])

    allocators = {name: allocator(name, arch, convs, curves, p["target_kind"], p["round_to"])[:2]
                  for name in ALLOCATIONS}
    rows = []
    for target in sorted(params["tradeoff"]["structured_targets"]):
        row = {"target": target}
        for name, (allocate, reachable) in allocators.items():
            if target <= reachable:
                model, new_arch = remove_filters(baseline, arch, allocate(target), p["round_to"])
                kind = p["target_kind"]
                row[f"{name}_achieved"] = 1 - cost.total(new_arch, kind) / cost.total(arch, kind)
                recalibrate_batchnorm(model, train, p["bn_recalibration_batches"], params["finetune"]["batch_size"],
                                      torch.Generator().manual_seed(params["seed"]))  # as structured_prune does
                row[name] = evaluate(model, test, params["measure"]["batch_size"], device)["accuracy"]
        rows.append(row)
        print(f"reduction {target:.2f}: " + ", ".join(f"{name} {row[name]:.2f}% "
                                                     f"(achieved {row[name + '_achieved']:.3f})"
                                                     for name in ALLOCATIONS if name in row))
    save_json(rows, args.plot_data)

    def reduction(m):
        return 1 - m[p["target_kind"]] / base[p["target_kind"]]

    plots.tradeoff_figure(
        rows, ALLOCATIONS,
        [("structured variant, one-shot", reduction(pruned), pruned["test_accuracy"]),
         ("structured variant + fine-tune", reduction(finetuned), finetuned["test_accuracy"]),
         ("scratch (control, same architecture)", reduction(scratch), scratch["test_accuracy"])],
        [("original", base["test_accuracy"]), ("dense_extra", dense_extra["test_accuracy"])],
        args.figure, f"fraction of the baseline's {'MACs' if p['target_kind'] == 'macs' else 'parameters'} removed",
        "Structured pruning: test accuracy against compression")


if __name__ == "__main__":
    run(main)
