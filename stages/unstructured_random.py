"""unstructured_random: the random-pruning control of the unstructured variant (ShrinkBench's first
baseline, Blalock et al. 2020): the variant's own per-layer sparsities (its chosen-levels report),
weights chosen at random (seeded), the same schedule and recovery. Where it matches the
variant, ranking by magnitude carried nothing beyond the per-layer counts."""
import copy

from lib import config, models, stage
from lib.errors import Diverged, param, run
from lib.io import load_json
from lib.pruning import unstructured_variant
from lib.pruning.unstructured import UnstructuredPrune
from lib.train import BASELINE_RECIPE, Recovery, fit, recovery

PARAMS = {**stage.COMMON, "finetune": BASELINE_RECIPE, "recovery": Recovery,
          "unstructured_prune": config.part(UnstructuredPrune, "schedule", "gradual_initial", "gradual_ramp",
                                            "gradual_every")}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--chosen", "--out", "--sparse-out"], PARAMS)
    p, seed = params.unstructured_prune, params.seed
    baseline, ckpt = models.load_checkpoint(args.model, device)
    with param("recovery.epochs"):
        training = recovery(params.finetune, params.recovery, baseline)
    with param("unstructured_prune.gradual_every"):
        ramp = unstructured_variant.ramp(p, training.recipe, len(data["train"]["labels"]))
    chosen = load_json(args.chosen, "chosen-levels report", keys=["achieved"])["achieved"]
    convs = models.layer_names(baseline)
    levels = {**{n: s for n, s in chosen.items() if n not in convs}, **{n: s for n, s in chosen.items() if n in convs}}

    model = copy.deepcopy(baseline)
    growing = unstructured_variant.prune(model, levels, "random", ramp, seed)
    with param("recovery.lr" if training.rewind is None else "finetune.lr", Diverged):
        fit(model, data, training, seed, params.measure.batch_size)
    unstructured_variant.finish(model, growing)
    models.save_checkpoint(args.out, model, ckpt["architecture"], classes=ckpt.get("classes"))
    unstructured_variant.save_sparse(model, ckpt["architecture"], args.sparse_out)
    print(f"random weights at the variant's levels {levels} -> {args.out}")


if __name__ == "__main__":
    run(main)
