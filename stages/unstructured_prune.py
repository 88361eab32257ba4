"""unstructured_prune: a target overall conv sparsity (or the largest within a validation budget, or an
explicit mapping) allocated over the layers (global, uniform, sensitivity or per-layer), L1-magnitude
masks one-shot or gradually during a masked fine-tune, the pruned model (dense and sparse export), the
chosen levels with their predicted and measured effect, and its metrics."""
import copy
import os

from lib import config, cost, models, stage
from lib.errors import run
from lib.io import save_torch
from lib.measure import save_variant
from lib.pruning import allocation, gradual, study
from lib.pruning.unstructured import apply_unstructured, make_permanent, sparsity, to_sparse
from lib.pruning.unstructured_allocation import allocator
from lib.train import fit

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
    p, train, val, eval_bs = params["unstructured_prune"], data["train"], data["val"], params["measure"]["batch_size"]
    base = study.baseline(args, device)
    linears = {n: p["linear_sparsity"] for n in models.layer_names(base.model, include_linear=True)
               if n not in base.convs}
    weights = {name: models.layer(base.model, name).weight for name in base.convs}
    base_val, accuracy = study.validation(base.model, val, eval_bs, device)

    def one_shot(levels):
        return apply_unstructured(copy.deepcopy(base.model), {**linears, **levels})

    levels, target, trace = allocation.plan(
        p["sparsities"], p, base.results, base.convs, lambda: allocator(p["allocation"], weights, base.curves),
        lambda lv: base_val - accuracy(one_shot(lv)), optional=list(linears), key="unstructured_prune.sparsities")
    # The chosen levels at once, before any fine-tune (gradual pruning reaches them during its fine-tune
    # instead, from the dense baseline: this is then its one-shot counterpart).
    drop_one_shot = base_val - accuracy(one_shot(levels))

    hp = config.recipe(params["finetune"], epochs=p["finetune_epochs"], lr=p["lr"], schedule="cosine")
    model = copy.deepcopy(base.model) if p["schedule"] == "gradual" else one_shot(levels)
    if p["schedule"] == "gradual":  # from the dense baseline: the masks grow while it trains
        gradual.prune_gradually(model, levels, linears, p, hp["epochs"] * (len(train["labels"]) // hp["batch_size"]),
                                target if p["allocation"] == "global" and p["sparsities"] == "auto" else None,
                                lambda m: fit(m, train, val, hp, device, params["seed"], eval_bs))
    elif hp["epochs"]:
        fit(model, train, val, hp, device, params["seed"], eval_bs)
    make_permanent(model)

    metrics = save(model, base, args, data, device, params["measure"], val_accuracy_drop_one_shot=drop_one_shot)
    study.save_chosen(args.chosen, p, "sparsities", levels, target, trace, base.curves,
                      {"one_shot": drop_one_shot, "after_finetune": metrics["val_accuracy_drop"]},
                      schedule=p["schedule"], achieved=metrics["layer_sparsity"],
                      conv_sparsity=metrics["conv_sparsity"])
    print(f"levels {metrics['layer_sparsity']}")
    print(f"conv sparsity {metrics['conv_sparsity']:.4f} ({metrics['compression_ratio']:.2f}x fewer nonzero "
          f"parameters), validation drop {drop_one_shot:.2f} one-shot / {metrics['val_accuracy_drop']:.2f} after "
          f"fine-tuning, test accuracy {metrics['test_accuracy']:.2f}% (drop {metrics['test_accuracy_drop']:.2f})")


def save(model, base, args, data, device, cfg, **extra):
    """The pruned model saved dense (--out) and sparse (--sparse-out), measured (its sparsity per layer and
    overall, its effective MACs: a zeroed weight does no useful work) -> --metrics; returns the metrics."""
    arch = base.arch
    save_torch({"architecture": arch, "sparse_state_dict": to_sparse(model.state_dict())}, args.sparse_out)
    achieved = sparsity(model)
    effective = cost.effective_macs(arch, {n: 1 - s for n, s in achieved["layers"].items()})
    return save_variant(model, arch, args.out, args.metrics, data, device, cfg, base.metrics, base.classes,
                        sparse_size_bytes=os.path.getsize(args.sparse_out), **extra,
                        conv_sparsity=achieved["conv_overall"], effective_macs=effective,
                        effective_macs_reduction=1 - effective / base.metrics["macs"],
                        layer_sparsity=achieved["layers"])


if __name__ == "__main__":
    run(main)
