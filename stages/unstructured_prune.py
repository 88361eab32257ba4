"""unstructured_prune: a target overall conv sparsity (or the largest within a validation budget, or an
explicit mapping) allocated over the layers (global, LAMP, uniform, sensitivity or per-layer), masks by
magnitude (or at random) one-shot or gradually during a masked fine-tune -> the pruned model (dense and
sparse export), the chosen levels with their predicted and measured effect, and the stage's record."""
import copy

from lib import models, stage
from lib.errors import param, run
from lib.io import save_json
from lib.pruning import allocation, study, unstructured_allocation, unstructured_variant
from lib.pruning.unstructured import UnstructuredPrune, one_shot, sparsity
from lib.train import RECOVERY_FROM_FINETUNE, evaluate, fit, recipe

PARAMS = {**stage.COMMON, "finetune": RECOVERY_FROM_FINETUNE, "unstructured_prune": UnstructuredPrune}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--results", "--out", "--sparse-out", "--chosen", "--record"], PARAMS)
    p, seed, batch = params.unstructured_prune, params.seed, params.measure.batch_size
    base = study.baseline(args.model, args.results, device)
    linears = {n: p.linear_sparsity for n in models.layer_names(base.model, include_linear=True) if n not in base.convs}
    weights = {name: models.layer(base.model, name).weight for name in base.convs}
    base_val = evaluate(base.model, data["val"], batch)["accuracy"]

    def one_shot_drop(levels):  # the validation drop of the baseline pruned at once to `levels`
        pruned = one_shot(base.model, {**linears, **levels}, p.criterion, seed)
        return base_val - evaluate(pruned, data["val"], batch)["accuracy"]

    def drop_at(target):  # ... to the levels the allocation gives `target`
        return one_shot_drop(unstructured_allocation.allocate(p.allocation, target, weights, base.curves))

    target, trace = p.target, None
    if p.sparsities != "auto":  # an explicit mapping
        with param("unstructured_prune.sparsities"):
            levels = allocation.explicit(p.sparsities, base.convs, optional=list(linears))
    elif p.allocation == "per_layer":  # each layer alone at its largest tested level within the budget
        levels = allocation.choose_levels(base.results, p.budget)
    else:  # the target spread over the layers; with no target, the largest whose one-shot drop is within budget
        if target is None:
            reachable = unstructured_allocation.reachable(p.allocation, weights, base.curves)
            target, trace = allocation.largest_within(drop_at, p.budget, reachable)
        levels = unstructured_allocation.allocate(p.allocation, target, weights, base.curves)
    drop = one_shot_drop(levels)  # gradual pruning reaches them during its fine-tune: its one-shot counterpart

    hp = recipe(params.finetune, epochs=p.finetune_epochs, lr=p.lr, schedule="cosine")
    with param("unstructured_prune.gradual_every"):
        ramp = unstructured_variant.ramp(p, hp, len(data["train"]["labels"]))
    model = copy.deepcopy(base.model)
    growing = unstructured_variant.prune(model, {**linears, **levels}, p.criterion, ramp, seed,
                                         target if p.allocation == "global" and p.sparsities == "auto" else None)
    if hp.epochs:
        fit(model, data, hp, seed, batch)
    unstructured_variant.finish(model, growing)

    models.save_checkpoint(args.out, model, base.arch, classes=base.ckpt.get("classes"))
    unstructured_variant.save_sparse(model, base.arch, args.sparse_out)
    achieved, after = sparsity(model), base_val - evaluate(model, data["val"], batch)["accuracy"]
    save_json({"val_accuracy_drop_one_shot": drop}, args.record)
    save_json({**study.chosen(p, "sparsities", levels, target, trace, base.curves),
               "measured_val_drop": {"one_shot": drop, "after_finetune": after}, "criterion": p.criterion,
               "schedule": p.schedule, "achieved": achieved["layers"], "conv_sparsity": achieved["conv_overall"]},
              args.chosen)
    print(f"levels {achieved['layers']}")
    print(f"conv sparsity {achieved['conv_overall']:.4f}, validation drop {drop:.2f} one-shot / {after:.2f} after "
          f"fine-tuning -> {args.out}")


if __name__ == "__main__":
    run(main)
