"""unstructured_prune: a target overall conv sparsity (or the largest within a validation budget, or an
explicit mapping) allocated over the layers (global, uniform, sensitivity or per-layer), L1-magnitude
masks one-shot or gradually during a masked fine-tune, the pruned model (dense and sparse export), the
chosen levels with their predicted and measured effect, and its metrics."""
import copy
import os

from lib import config, cost, models, stage
from lib.errors import UserError, run
from lib.io import save_json, save_torch
from lib.measure import read_metrics, save_variant
from lib.pruning import allocation, gradual
from lib.pruning.sensitivity import read_results
from lib.pruning.unstructured import apply_unstructured, make_permanent, sparsity, to_sparse
from lib.pruning.unstructured_allocation import allocator
from lib.train import evaluate, fit

PARAMS = {
    "finetune": config.keys(config.FINETUNE, "batch_size", "momentum", "weight_decay", "augment"),
    "unstructured_prune": {
        "sparsities": config.per_layer,
        "target": config.optional(config.open_fraction),
        "budget": config.non_negative_number,
        "allocation": config.choice("global", "uniform", "sensitivity", "per_layer"),
        "linear_sparsity": config.fraction,
        "schedule": config.choice("oneshot", "gradual"),
        "finetune_epochs": config.non_negative_int,
        "lr": config.positive_number,
        "gradual_initial": config.fraction,
        "gradual_ramp": config.fraction_up_to_one,
        "gradual_every": config.positive_int,
    },
    "measure": config.MEASURE,
}
RULES = [  # (section, broken(values), what to do)
    ("unstructured_prune", lambda p: p["schedule"] == "gradual" and p["finetune_epochs"] == 0,
     "schedule: gradual raises the sparsity during the masked fine-tune; set finetune_epochs > 0"),
    ("unstructured_prune", lambda p: p["schedule"] == "gradual" and p["sparsities"] == "auto"
     and p["target"] is None and p["allocation"] != "per_layer",
     "gradual pruning is driven by a target: set target (target: null searches the budget, for one-shot pruning)"),
]


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--baseline-metrics", "--results", "--out", "--sparse-out", "--chosen",
                  "--metrics"], PARAMS, RULES)
    p, cfg, train, val = params["unstructured_prune"], params["measure"], data["train"], data["val"]
    baseline, ckpt = models.load_checkpoint(args.model, device)
    results, baseline_metrics = read_results(args.results), read_metrics(args.baseline_metrics)
    convs = models.layer_names(baseline)
    linears = [name for name in models.layer_names(baseline, include_linear=True) if name not in convs]
    weights = {name: models.layer(baseline, name).weight for name in convs}
    curves = allocation.curves(results, convs)
    base_val = evaluate(baseline, val, cfg["batch_size"], device)["accuracy"]

    def one_shot(levels):
        return apply_unstructured(copy.deepcopy(baseline), {**{n: p["linear_sparsity"] for n in linears}, **levels})

    def val_drop(model):
        return base_val - evaluate(model, val, cfg["batch_size"], device)["accuracy"]

    levels, target, trace = allocation.plan(
        p["sparsities"], p, results, convs, lambda: allocator(p["allocation"], weights, curves),
        lambda lv: val_drop(one_shot(lv)), optional=linears, key="unstructured_prune.sparsities")
    model = one_shot(levels)
    drop_one_shot = val_drop(model)  # the chosen levels at once, before any fine-tune (gradual pruning reaches
    # them during its fine-tune instead, from the dense baseline: this is then its one-shot counterpart)

    hp = {**params["finetune"], "epochs": p["finetune_epochs"], "lr": p["lr"], "schedule": "cosine"}
    if p["schedule"] == "gradual":  # start again from the dense baseline; the masks grow while it trains
        model = copy.deepcopy(baseline)
        steps = hp["epochs"] * (len(train["labels"]) // hp["batch_size"])
        ramp, every, initial = round(p["gradual_ramp"] * steps), p["gradual_every"], p["gradual_initial"]
        if ramp < 2 * every:
            raise UserError(f"params.yaml: unstructured_prune.gradual_every = {every} leaves fewer than 3 mask "
                            f"updates in the {ramp} steps of the schedule's ramp ({steps} training steps); lower "
                            "it, or raise finetune_epochs or gradual_ramp")
        global_target = target if p["allocation"] == "global" and p["sparsities"] == "auto" else None
        levels_at = gradual.schedule(model, levels, {n: p["linear_sparsity"] for n in linears}, initial, ramp, every,
                                     global_target)
        gradual.prune_while_training(model, levels_at, ramp, every,
                                     lambda m: fit(m, train, val, hp, device, params["seed"]))
    elif hp["epochs"]:
        fit(model, train, val, hp, device, params["seed"])
    make_permanent(model)

    save_torch({"architecture": ckpt["architecture"], "sparse_state_dict": to_sparse(model.state_dict())},
               args.sparse_out)
    achieved = sparsity(model)
    effective = cost.effective_macs(ckpt["architecture"], {n: 1 - s for n, s in achieved["layers"].items()})
    metrics = save_variant(
        model, ckpt["architecture"], args.out, args.metrics, data, device, cfg, baseline_metrics,
        ckpt.get("classes"), sparse_size_bytes=os.path.getsize(args.sparse_out),
        val_accuracy_drop_one_shot=drop_one_shot, conv_sparsity=achieved["conv_overall"], effective_macs=effective,
        effective_macs_reduction=1 - effective / baseline_metrics["macs"], layer_sparsity=achieved["layers"])
    predicted = allocation.predicted_drops(curves, levels)
    save_json({"from": "explicit" if p["sparsities"] != "auto" else "auto", "allocation": p["allocation"],
               "schedule": p["schedule"], "target": target, "budget": p["budget"], "budget_search": trace,
               "sparsities": levels, "achieved": achieved["layers"], "conv_sparsity": achieved["conv_overall"],
               "predicted_drop": {"per_layer": predicted, "sum": sum(predicted.values())},
               "measured_val_drop": {"one_shot": drop_one_shot, "after_finetune": metrics["val_accuracy_drop"]}},
              args.chosen)
    print(f"levels {achieved['layers']}")
    print(f"conv sparsity {achieved['conv_overall']:.4f} ({metrics['compression_ratio']:.2f}x fewer nonzero "
          f"parameters), validation drop {drop_one_shot:.2f} one-shot / {metrics['val_accuracy_drop']:.2f} after "
          f"fine-tuning, test accuracy {metrics['test_accuracy']:.2f}% (drop {metrics['test_accuracy_drop']:.2f})")


if __name__ == "__main__":
    run(main)
