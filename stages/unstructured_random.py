"""unstructured_random: the random-pruning control of the unstructured variant (ShrinkBench's first
baseline, Blalock et al. 2020): the variant's own per-layer sparsities (its chosen-levels report),
weights chosen at random (seeded), the same schedule and masked fine-tune. Where it matches the
variant, ranking by magnitude carried nothing beyond the per-layer counts."""
from lib import config, models, stage
from lib.errors import run
from lib.io import load_json
from lib.measure import read_metrics
from lib.pruning import unstructured_variant

PARAMS = {
    "finetune": config.RECOVERY_FROM_FINETUNE,
    "unstructured_prune": config.Keys(
        schedule=config.choice("oneshot", "gradual"), finetune_epochs=config.non_negative_int,
        lr=config.positive_number, gradual_initial=config.fraction, gradual_ramp=config.fraction_up_to_one,
        gradual_every=config.positive_int),
    "measure": config.MEASURE,
}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--baseline-metrics", "--chosen", "--out", "--sparse-out", "--metrics"],
        PARAMS)
    p = {**params["unstructured_prune"], "criterion": "random"}
    baseline, ckpt = models.load_checkpoint(args.model, device)
    chosen = load_json(args.chosen, "chosen-levels report", keys=["achieved"])["achieved"]
    convs = models.layer_names(baseline)
    levels = {n: level for n, level in chosen.items() if n in convs}
    fixed = {n: level for n, level in chosen.items() if n not in convs}

    hp = config.recipe(params["finetune"], epochs=p["finetune_epochs"], lr=p["lr"], schedule="cosine")
    model = unstructured_variant.recovered(baseline, levels, fixed, p, hp, data, device, params["seed"],
                                           params["measure"]["batch_size"])
    metrics = unstructured_variant.save(model, ckpt, read_metrics(args.baseline_metrics), args, data, device,
                                        params["measure"])
    print(f"random weights at the variant's levels: conv sparsity {metrics['conv_sparsity']:.4f}, test accuracy "
          f"{metrics['test_accuracy']:.2f}% (drop {metrics['test_accuracy_drop']:.2f})")


if __name__ == "__main__":
    run(main)
