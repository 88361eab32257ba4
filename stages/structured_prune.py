"""structured_prune: a target reduction of the baseline's MACs or parameters (or the largest within a
validation budget, or an explicit mapping) allocated over the conv layers (sensitivity, uniform or
per-layer), filter counts rounded to multiples of round_to -> a new, physically smaller VGG-11, batch
norm recalibrated, the chosen ratios with their predicted and measured effect, and its metrics."""
import torch

from lib import config, stage
from lib.batchnorm import recalibrate_batchnorm
from lib.errors import param, run
from lib.measure import save_variant
from lib.pruning import allocation, study
from lib.pruning.structured import CRITERIA, check_round_to, criterion_scores, filters_to_keep, remove_filters
from lib.pruning.structured_allocation import allocator

PARAMS = {
    "finetune": config.keys(config.FINETUNE, "batch_size"),  # of the batch-norm recalibration batches
    "structured_prune": {
        "ratios": config.per_layer,
        "target": config.optional(config.reduction_target),
        "target_kind": config.choice("macs", "params"),
        "budget": config.non_negative_number,
        "allocation": config.choice("sensitivity", "uniform", "per_layer"),
        "criterion": config.choice(*CRITERIA),
        "round_to": config.positive_int,
        "bn_recalibration_batches": config.non_negative_int,
    },
    "measure": config.MEASURE,
}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--baseline-metrics", "--results", "--out", "--chosen", "--metrics"],
        PARAMS)
    p, train = params["structured_prune"], data["train"]
    base = study.baseline(args, device)
    with param("structured_prune.round_to"):
        check_round_to(base.arch["filters"], base.convs, p["round_to"])
    base_val, accuracy = study.validation(base.model, data["val"], params["measure"]["batch_size"], device)
    scores = criterion_scores(base.model, p["criterion"], params["seed"], data["val"], params["measure"]["batch_size"],
                              device)

    def recalibrated(model):  # batch norm re-estimated in place: the one-shot result before fine-tuning
        return recalibrate_batchnorm(model, train, p["bn_recalibration_batches"], params["finetune"]["batch_size"],
                                     torch.Generator().manual_seed(params["seed"]))

    ratios, target, trace = allocation.plan(
        p["ratios"], p, base.results, base.convs,
        lambda: allocator(p["allocation"], base.arch, base.convs, base.curves, p["target_kind"], p["round_to"]),
        lambda levels: base_val - accuracy(recalibrated(remove_filters(base.model, base.arch, levels,
                                                                       p["round_to"], scores)[0])),
        key="structured_prune.ratios")
    with param("structured_prune.ratios"):
        filters_to_keep(base.model, ratios, p["round_to"], scores)  # every layer keeps a filter
    model, new_arch = remove_filters(base.model, base.arch, ratios, p["round_to"], scores)
    val_before = accuracy(model)
    metrics = save_variant(recalibrated(model), new_arch, args.out, args.metrics, data, device, params["measure"],
                           base.metrics, base.classes, val_accuracy_before_bn_recalibration=val_before,
                           bn_recalibration_gain=lambda m: m["val_accuracy"] - val_before,
                           filters=dict(zip(base.convs, new_arch["filters"])))
    drop = base_val - metrics["val_accuracy"]
    study.save_chosen(args.chosen, p, "ratios", ratios, target, trace, base.curves, {"one_shot": drop},
                      criterion=p["criterion"], target_kind=p["target_kind"], round_to=p["round_to"],
                      filters_before=base.arch["filters"], filters_after=new_arch["filters"],
                      macs_reduction=metrics["macs_reduction"], params_reduction=metrics["params_reduction"])
    print(f"filters {base.arch['filters']} -> {new_arch['filters']}")
    print(f"params -{100 * metrics['params_reduction']:.1f}%, MACs -{100 * metrics['macs_reduction']:.1f}%, "
          f"validation drop before fine-tuning {drop:.2f}, test accuracy {metrics['test_accuracy']:.2f}%")


if __name__ == "__main__":
    run(main)
