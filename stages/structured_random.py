"""structured_random: the random-pruning control of the structured variant: the variant's own filter
counts (its chosen ratios and round_to), filters chosen at random (seeded) instead of by the criterion,
the same batch-norm recalibration and the same recovery. Where it matches the variant, the criterion chose
nothing better than the counts did."""
import torch

from lib import config, models, stage
from lib.batchnorm import Recalibration
from lib.errors import Diverged, UserError, param, run
from lib.io import load_json, save_json
from lib.pruning.structured import StructuredPrune, filter_scores, smaller
from lib.train import BASELINE_RECIPE, Recovery, fit, recovery

PARAMS = {**stage.COMMON, "finetune": BASELINE_RECIPE, "recovery": Recovery,
          "structured_prune": config.part(StructuredPrune, "round_to", "bn_recalibration_batches")}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--chosen", "--out", "--record", "--live"], PARAMS)
    p, seed = params.structured_prune, params.seed
    baseline, ckpt = models.load_checkpoint(args.model, device)
    chosen = load_json(args.chosen, "chosen-ratios report", keys=["ratios", "filters_after"])

    scores = filter_scores(baseline, "random", torch.Generator().manual_seed(seed))
    recalibration = Recalibration(data["train"], p.bn_recalibration_batches, params.finetune.batch_size, seed)
    model, arch = smaller(baseline, ckpt["architecture"], chosen["ratios"], p.round_to, scores, recalibration)
    if arch["filters"] != chosen["filters_after"]:
        raise UserError(f"{args.chosen} gives filter counts {chosen['filters_after']}, but its ratios with "
                        f"structured_prune.round_to = {p.round_to} give {arch['filters']}: re-run structured_prune")
    with param("recovery.epochs"):
        training = recovery(params.finetune, params.recovery, baseline)
    with param("recovery.lr" if training.rewind is None else "finetune.lr", Diverged):
        history = fit(model, data, training, seed, params.measure.batch_size, args.live)
    models.save_checkpoint(args.out, model, arch, classes=ckpt.get("classes"))
    save_json({"filters": dict(zip(models.layer_names(model), arch["filters"]))}, args.record)
    print(f"random filters at the variant's counts {arch['filters']}: validation accuracy "
          f"{history[-1]['val_accuracy']:.2f}% -> {args.out}")


if __name__ == "__main__":
    run(main)
