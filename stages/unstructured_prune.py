"""unstructured_prune: a target overall conv sparsity (or the largest within a validation budget, or an
explicit mapping) allocated over the layers (global, LAMP, uniform, sensitivity or per-layer), masks by
magnitude (or at random) one-shot or gradually during a masked fine-tune, the pruned model (dense and
sparse export), the chosen levels with their predicted and measured effect, and its metrics."""
import copy

import torch

from lib import config, models, stage
from lib.errors import run
from lib.pruning import allocation, study, unstructured_variant
from lib.pruning.unstructured import CRITERIA, apply_unstructured
from lib.pruning.unstructured_allocation import allocator

PARAMS = {
    "finetune": config.RECOVERY_FROM_FINETUNE,
    "unstructured_prune": {
        "sparsities": config.per_layer,
        "target": config.optional(config.open_fraction),
        "budget": config.non_negative_number,
        "allocation": config.choice("global", "lamp", "uniform", "sensitivity", "per_layer"),
        "criterion": config.choice(*CRITERIA),
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
    p, eval_bs = params["unstructured_prune"], params["measure"]["batch_size"]
    base = study.baseline(args, device)
    linears = {n: p["linear_sparsity"] for n in models.layer_names(base.model, include_linear=True)
               if n not in base.convs}
    weights = {name: models.layer(base.model, name).weight for name in base.convs}
    base_val, accuracy = study.validation(base.model, data["val"], eval_bs, device)

    def one_shot(levels):
        return apply_unstructured(copy.deepcopy(base.model), {**linears, **levels}, p["criterion"],
                                  torch.Generator().manual_seed(params["seed"]))

    levels, target, trace = allocation.plan(
        p["sparsities"], p, base.results, base.convs, lambda: allocator(p["allocation"], weights, base.curves),
        lambda lv: base_val - accuracy(one_shot(lv)), optional=list(linears), key="unstructured_prune.sparsities")
    # The chosen levels at once, before any fine-tune (gradual pruning reaches them during its fine-tune
    # instead, from the dense baseline: this is then its one-shot counterpart).
    drop_one_shot = base_val - accuracy(one_shot(levels))

    hp = config.recipe(params["finetune"], epochs=p["finetune_epochs"], lr=p["lr"], schedule="cosine")
    model = unstructured_variant.recovered(
        base.model, levels, linears, p, hp, data, device, params["seed"], eval_bs,
        global_target=target if p["allocation"] == "global" and p["sparsities"] == "auto" else None)
    metrics = unstructured_variant.save(model, base.ckpt, base.metrics, args, data, device, params["measure"],
                                        val_accuracy_drop_one_shot=drop_one_shot)
    study.save_chosen(args.chosen, p, "sparsities", levels, target, trace, base.curves,
                      {"one_shot": drop_one_shot, "after_finetune": metrics["val_accuracy_drop"]},
                      criterion=p["criterion"], schedule=p["schedule"], achieved=metrics["layer_sparsity"],
                      conv_sparsity=metrics["conv_sparsity"])
    print(f"levels {metrics['layer_sparsity']}")
    print(f"conv sparsity {metrics['conv_sparsity']:.4f} ({metrics['compression_ratio']:.2f}x fewer nonzero "
          f"parameters), validation drop {drop_one_shot:.2f} one-shot / {metrics['val_accuracy_drop']:.2f} after "
          f"fine-tuning, test accuracy {metrics['test_accuracy']:.2f}% (drop {metrics['test_accuracy_drop']:.2f})")


if __name__ == "__main__":
    run(main)
