"""structured_prune: a target reduction of the baseline's MACs or parameters (or the largest within a
validation budget, or an explicit mapping) allocated over the conv layers (sensitivity, uniform or
per-layer), filter counts rounded to multiples of round_to -> a new, physically smaller VGG-11, batch
norm recalibrated, the chosen ratios with their predicted and measured effect, and the stage's record."""
from lib import config, cost, models, stage
from lib.batchnorm import Recalibration, recalibrate_batchnorm
from lib.errors import param, run
from lib.io import save_json
from lib.pruning import allocation, structured_allocation, study
from lib.pruning.structured import (StructuredPrune, check_round_to, criterion_scores, filters_to_keep, remove_filters,
                                    smaller)
from lib.train import Recipe, evaluate

# finetune.batch_size: of the batch-norm recalibration batches
PARAMS = {**stage.COMMON, "finetune": config.part(Recipe, "batch_size"), "structured_prune": StructuredPrune}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--results", "--out", "--chosen", "--record"], PARAMS)
    p, seed, batch, val = params.structured_prune, params.seed, params.measure.batch_size, data["val"]
    base = study.baseline(args.model, args.results, device)
    with param("structured_prune.round_to"):
        check_round_to(base.arch["filters"], base.convs, p.round_to)
    recalibration = Recalibration(data["train"], p.bn_recalibration_batches, params.finetune.batch_size, seed)
    base_val = evaluate(base.model, val, batch)["accuracy"]
    scores = criterion_scores(base.model, p.criterion, seed, val, batch)

    def one_shot_drop(ratios):  # the validation drop of the smaller model, batch norm recalibrated
        small, _ = smaller(base.model, base.arch, ratios, p.round_to, scores, recalibration)
        return base_val - evaluate(small, val, batch)["accuracy"]

    def drop_at(target):  # ... of the ratios the allocation gives `target`
        return one_shot_drop(structured_allocation.allocate(p.allocation, target, p.target_kind, base.arch,
                                                            base.curves, p.round_to))

    target, trace = p.target, None
    if p.ratios != "auto":  # an explicit mapping
        with param("structured_prune.ratios"):
            ratios = allocation.explicit(p.ratios, base.convs)
    elif p.allocation == "per_layer":  # each layer alone at its largest tested ratio within the budget
        ratios = allocation.choose_levels(base.results, p.budget)
    else:  # the target spread over the layers; with no target, the largest whose one-shot drop is within budget
        if target is None:
            reachable = structured_allocation.reachable(p.allocation, base.arch, base.curves, p.target_kind,
                                                        p.round_to)
            target, trace = allocation.largest_within(drop_at, p.budget, reachable)
        ratios = structured_allocation.allocate(p.allocation, target, p.target_kind, base.arch, base.curves,
                                                p.round_to)
    with param("structured_prune.ratios"):
        filters_to_keep(base.model, ratios, p.round_to, scores)  # every layer keeps a filter

    model, new_arch = remove_filters(base.model, base.arch, ratios, p.round_to, scores)
    before = evaluate(model, val, batch)["accuracy"]
    after = evaluate(recalibrate_batchnorm(model, recalibration), val, batch)["accuracy"]
    models.save_checkpoint(args.out, model, new_arch, classes=base.ckpt.get("classes"))
    filters = dict(zip(base.convs, new_arch["filters"]))
    save_json({"val_accuracy_before_bn_recalibration": before, "bn_recalibration_gain": after - before,
               "filters": filters}, args.record)
    reduction = {k: 1 - cost.total(new_arch, k) / cost.total(base.arch, k) for k in ("macs", "params")}
    save_json({**study.chosen(p, "ratios", ratios, target, trace, base.curves),
               "measured_val_drop": {"one_shot": base_val - after}, "criterion": p.criterion,
               "target_kind": p.target_kind, "round_to": p.round_to, "filters_before": base.arch["filters"],
               "filters_after": new_arch["filters"], "macs_reduction": reduction["macs"],
               "params_reduction": reduction["params"]}, args.chosen)
    print(f"filters {base.arch['filters']} -> {new_arch['filters']}")
    print(f"params -{100 * reduction['params']:.1f}%, MACs -{100 * reduction['macs']:.1f}%, validation drop before "
          f"fine-tuning {base_val - after:.2f} -> {args.out}")


if __name__ == "__main__":
    run(main)
