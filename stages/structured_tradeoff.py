"""structured_tradeoff: the accuracy-versus-compression curve of structured pruning. At each MAC (or
parameter, structured_prune.target_kind) reduction of tradeoff.structured_targets, every allocation
(uniform, sensitivity) removes filters from the baseline one-shot, batch norm recalibrated, and is scored
on the test split; the structured variant before and after its recovery fine-tune and the controls
(random filters at its counts, scratch, dense_extra) are drawn beside the curves -> plot data (a DVC
plot) and a figure."""
import torch

from lib import config, cost, plots, stage
from lib.batchnorm import recalibrate_batchnorm
from lib.errors import param, run
from lib.io import save_json
from lib.measure import read_metrics
from lib.pruning import study
from lib.pruning.structured import CRITERIA, check_round_to, criterion_scores, remove_filters
from lib.pruning.structured_allocation import allocator
from lib.train import evaluate

ALLOCATIONS = ("uniform", "sensitivity")
PARAMS = {
    "tradeoff": config.Keys(structured_targets=config.levels),
    "structured_prune": config.Keys(target_kind=config.choice("macs", "params"), round_to=config.positive_int,
                                    bn_recalibration_batches=config.non_negative_int,
                                    criterion=config.choice(*CRITERIA)),
    "finetune": config.keys(config.FINETUNE, "batch_size"),
    "measure": config.MEASURE,
}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--results", "--baseline-metrics", "--pruned", "--finetuned", "--random",
                  "--dense-extra", "--scratch", "--plot-data", "--figure"], PARAMS, splits=("train", "val", "test"))
    p, kind = params["structured_prune"], params["structured_prune"]["target_kind"]
    base = study.baseline(args, device)
    pruned, finetuned, random, scratch, dense_extra = map(read_metrics, (
        args.pruned, args.finetuned, args.random, args.scratch, args.dense_extra))
    with param("structured_prune.round_to"):
        check_round_to(base.arch["filters"], base.convs, p["round_to"])

    scores = criterion_scores(base.model, p["criterion"], params["seed"], data["val"], params["measure"]["batch_size"],
                              device)

    def score(name, ratios):  # one-shot, ranked and recalibrated as structured_prune does, on the test split
        model, new_arch = remove_filters(base.model, base.arch, ratios, p["round_to"], scores)
        recalibrate_batchnorm(model, data["train"], p["bn_recalibration_batches"], params["finetune"]["batch_size"],
                              torch.Generator().manual_seed(params["seed"]))
        return {f"{name}_achieved": 1 - cost.total(new_arch, kind) / cost.total(base.arch, kind),
                name: evaluate(model, data["test"], params["measure"]["batch_size"], device)["accuracy"]}

    allocators = {name: allocator(name, base.arch, base.convs, base.curves, kind, p["round_to"])
                  for name in ALLOCATIONS}
    rows = study.tradeoff(params["tradeoff"]["structured_targets"], allocators, score, "reduction")
    save_json(rows, args.plot_data)

    def point(label, m):  # a model's reduction and test accuracy
        return label, 1 - m[kind] / base.metrics[kind], m["test_accuracy"]

    plots.tradeoff_figure(
        rows, ALLOCATIONS, [point("structured variant, one-shot", pruned),
                            point("structured variant + fine-tune", finetuned),
                            point("random filters at its counts + fine-tune (control)", random),
                            point("scratch (control, same architecture)", scratch)],
        [("original", base.metrics["test_accuracy"]), ("dense_extra", dense_extra["test_accuracy"])],
        args.figure, f"fraction of the baseline's {'MACs' if kind == 'macs' else 'parameters'} removed",
        "Structured pruning: test accuracy against compression")


if __name__ == "__main__":
    run(main)
