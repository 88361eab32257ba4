"""structured_random: the random-pruning control of the structured variant: the variant's own filter
counts (its chosen ratios and round_to), filters chosen at random (seeded) instead of by the
criterion, the same batch-norm recalibration and the same recovery fine-tune (structured_finetune's
recipe). Where it matches the variant, the criterion chose nothing better than the counts did."""
import torch

from lib import config, models, stage
from lib.batchnorm import recalibrate_batchnorm
from lib.errors import UserError, run
from lib.io import load_json
from lib.measure import read_metrics, save_variant
from lib.pruning.structured import filter_scores, remove_filters
from lib.train import fit

PARAMS = {
    "finetune": config.keys(config.FINETUNE, "batch_size"),  # of the batch-norm recalibration batches
    "structured_prune": config.Keys(round_to=config.positive_int, bn_recalibration_batches=config.non_negative_int),
    "structured_finetune": config.RECIPE,
    "measure": config.MEASURE,
}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--baseline-metrics", "--chosen", "--out", "--metrics", "--live"], PARAMS)
    p, seed = params["structured_prune"], params["seed"]
    baseline, ckpt = models.load_checkpoint(args.model, device)
    chosen = load_json(args.chosen, "chosen-ratios report", keys=["ratios", "filters_after"])

    scores = filter_scores(baseline, "random", torch.Generator().manual_seed(seed))
    model, arch = remove_filters(baseline, ckpt["architecture"], chosen["ratios"], p["round_to"], scores)
    if arch["filters"] != chosen["filters_after"]:
        raise UserError(f"{args.chosen} gives filter counts {chosen['filters_after']}, but its ratios with "
                        f"structured_prune.round_to = {p['round_to']} give {arch['filters']}: re-run structured_prune")
    recalibrate_batchnorm(model, data["train"], p["bn_recalibration_batches"], params["finetune"]["batch_size"],
                          torch.Generator().manual_seed(seed))
    fit(model, data["train"], data["val"], params["structured_finetune"], device, seed,
        params["measure"]["batch_size"], args.live)
    metrics = save_variant(model, arch, args.out, args.metrics, data, device, params["measure"],
                           read_metrics(args.baseline_metrics), ckpt.get("classes"),
                           filters=dict(zip(models.layer_names(model), arch["filters"])))
    print(f"random filters at the variant's counts {arch['filters']}: test accuracy {metrics['test_accuracy']:.2f}% "
          f"(drop {metrics['test_accuracy_drop']:.2f})")


if __name__ == "__main__":
    run(main)
