"""structured_prune: a target reduction of the baseline's MACs or parameters (or the largest within a
validation budget, or an explicit mapping) allocated over the conv layers (sensitivity, uniform or
per-layer), filter counts rounded to multiples of round_to -> a new, physically smaller VGG-11, batch
norm recalibrated, the chosen ratios with their predicted and measured effect, and its metrics."""
import torch

from lib import config, models, stage
from lib.batchnorm import recalibrate_batchnorm
from lib.errors import param, run
from lib.io import save_json
from lib.measure import read_metrics, save_variant
from lib.pruning import allocation
from lib.pruning.sensitivity import read_results
from lib.pruning.structured import check_round_to, filters_to_keep, remove_filters
from lib.pruning.structured_allocation import allocator
from lib.train import evaluate

PARAMS = {
    "finetune": config.keys(config.FINETUNE, "batch_size"),  # of the batch-norm recalibration batches
    "structured_prune": {
        "ratios": config.per_layer,
        "target": config.optional(config.reduction_target),
        "target_kind": config.choice("macs", "params"),
        "budget": config.non_negative_number,
        "allocation": config.choice("sensitivity", "uniform", "per_layer"),
        "round_to": config.positive_int,
        "bn_recalibration_batches": config.non_negative_int,
    },
    "measure": config.MEASURE,
}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--baseline-metrics", "--results", "--out", "--chosen", "--metrics"],
        PARAMS)
    p, cfg, train, val = params["structured_prune"], params["measure"], data["train"], data["val"]
    baseline, ckpt = models.load_checkpoint(args.model, device)
    results, baseline_metrics = read_results(args.results), read_metrics(args.baseline_metrics)
    arch, convs = ckpt["architecture"], models.layer_names(baseline)
    with param("structured_prune.round_to"):
        check_round_to(arch["filters"], convs, p["round_to"])
    curves = allocation.curves(results, convs)
    base_val = evaluate(baseline, val, cfg["batch_size"], device)["accuracy"]

    def recalibrated(model):  # batch norm re-estimated in place: the one-shot result before fine-tuning
        return recalibrate_batchnorm(model, train, p["bn_recalibration_batches"], params["finetune"]["batch_size"],
                                     torch.Generator().manual_seed(params["seed"]))

    def val_drop(model):
        return base_val - evaluate(model, val, cfg["batch_size"], device)["accuracy"]

    ratios, target, trace = allocation.plan(
        p["ratios"], p, results, convs,
        lambda: allocator(p["allocation"], arch, convs, curves, p["target_kind"], p["round_to"])[:2],
        lambda levels: val_drop(recalibrated(remove_filters(baseline, arch, levels, p["round_to"])[0])),
        key="structured_prune.ratios")
    with param("structured_prune.ratios"):
        filters_to_keep(baseline, ratios, p["round_to"])  # every layer keeps a filter
    model, new_arch = remove_filters(baseline, arch, ratios, p["round_to"])
    val_before = evaluate(model, val, cfg["batch_size"], device)["accuracy"]
    recalibrated(model)
    metrics = save_variant(model, new_arch, args.out, args.metrics, data, device, cfg, baseline_metrics,
                           ckpt.get("classes"), val_accuracy_before_bn_recalibration=val_before,
                           bn_recalibration_gain=lambda m: m["val_accuracy"] - val_before,
                           filters=dict(zip(convs, new_arch["filters"])))
    val_after = metrics["val_accuracy"]
    predicted = allocation.predicted_drops(curves, ratios)
    save_json({"from": "explicit" if p["ratios"] != "auto" else "auto", "allocation": p["allocation"],
               "target": target, "target_kind": p["target_kind"], "budget": p["budget"], "budget_search": trace,
               "round_to": p["round_to"], "ratios": ratios, "filters_before": arch["filters"],
               "filters_after": new_arch["filters"],
               "predicted_drop": {"per_layer": predicted, "sum": sum(predicted.values())},
               "measured_val_drop": {"one_shot": base_val - val_after},
               "macs_reduction": metrics["macs_reduction"], "params_reduction": metrics["params_reduction"]},
              args.chosen)
    print(f"filters {arch['filters']} -> {new_arch['filters']}")
    print(f"params -{100 * metrics['params_reduction']:.1f}%, MACs -{100 * metrics['macs_reduction']:.1f}%, "
          f"validation drop before fine-tuning {base_val - val_after:.2f}, "
          f"test accuracy {metrics['test_accuracy']:.2f}%")


if __name__ == "__main__":
    run(main)
