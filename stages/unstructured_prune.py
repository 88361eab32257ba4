"""unstructured_prune: a target overall conv sparsity (or the largest within a validation budget, or an
explicit mapping) allocated over the layers (global, LAMP, uniform, sensitivity or per-layer), masks by
magnitude (or at random) one-shot or gradually during a masked fine-tune -> the pruned model (dense and
sparse export), the chosen levels with their predicted and measured effect (one-shot measurements after a
batch-norm recalibration, and before it), and the stage's record."""
import copy

from lib import models, stage
from lib.batchnorm import Recalibration, recalibrate_batchnorm
from lib.errors import Diverged, param, run
from lib.io import save_json
from lib.pruning import allocation, study, unstructured_allocation, unstructured_variant
from lib.pruning.unstructured import UnstructuredPrune, one_shot, sparsity
from lib.train import BASELINE_RECIPE, Recovery, evaluate, fit, recovery

PARAMS = {**stage.COMMON, "finetune": BASELINE_RECIPE, "recovery": Recovery, "unstructured_prune": UnstructuredPrune}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--results", "--out", "--sparse-out", "--chosen", "--record"], PARAMS)
    p, seed, batch = params.unstructured_prune, params.seed, params.measure.batch_size
    base = study.baseline(args.model, args.results, device)
    linears = {n: p.linear_sparsity for n in models.layer_names(base.model, include_linear=True) if n not in base.convs}
    weights = {name: models.layer(base.model, name).weight for name in base.convs}
    base_val = evaluate(base.model, data["val"], batch)["accuracy"]
    recalibration = Recalibration(data["train"], p.bn_recalibration_batches, params.finetune.batch_size, seed)

    def one_shot_drops(levels):  # the validation drops of the baseline pruned at once, before and after recalibrating
        pruned = one_shot(base.model, {**linears, **levels}, p.criterion, seed)
        before = base_val - evaluate(pruned, data["val"], batch)["accuracy"]
        return before, base_val - evaluate(recalibrate_batchnorm(pruned, recalibration), data["val"], batch)["accuracy"]

    def drop_at(target):  # ... to the levels the allocation gives `target`, recalibrated
        return one_shot_drops(unstructured_allocation.allocate(p.allocation, target, weights, base.curves))[1]

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
    before, drop = one_shot_drops(levels)  # gradual pruning reaches them during its fine-tune: its one-shot counterpart

    with param("recovery.epochs"):
        training = recovery(params.finetune, params.recovery, base.model)  # the baseline teaches, if distilling
    with param("unstructured_prune.gradual_every"):
        ramp = unstructured_variant.ramp(p, training.recipe, len(data["train"]["labels"]))
    model = copy.deepcopy(base.model)
    growing = unstructured_variant.prune(model, {**linears, **levels}, p.criterion, ramp, seed,
                                         target if p.allocation == "global" and p.sparsities == "auto" else None)
    with param("recovery.lr" if training.rewind is None else "finetune.lr", Diverged):
        fit(model, data, training, seed, batch)
    unstructured_variant.finish(model, growing)

    models.save_checkpoint(args.out, model, base.arch, classes=base.ckpt.get("classes"))
    unstructured_variant.save_sparse(model, base.arch, args.sparse_out)
    achieved, after = sparsity(model), base_val - evaluate(model, data["val"], batch)["accuracy"]
    save_json({"val_accuracy_drop_one_shot": drop, "val_accuracy_drop_one_shot_before_recalibration": before},
              args.record)
    save_json({**study.chosen(p, "sparsities", levels, target, trace, base.curves),
               "measured_val_drop": {"one_shot": drop, "one_shot_before_recalibration": before,
                                     "after_finetune": after}, "criterion": p.criterion,
               "schedule": p.schedule, "achieved": achieved["layers"], "conv_sparsity": achieved["conv_overall"]},
              args.chosen)
    print(f"levels {achieved['layers']}")
    print(f"conv sparsity {achieved['conv_overall']:.4f}, validation drop {drop:.2f} one-shot ({before:.2f} before "
          f"batch-norm recalibration) / {after:.2f} after fine-tuning -> {args.out}")


if __name__ == "__main__":
    run(main)
