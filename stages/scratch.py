"""scratch: the structured architecture trained from random initialisation (Liu et al. 2019,
"Rethinking the Value of Network Pruning"): the filter counts structured_prune chose, the baseline's
recipe, for the baseline's epochs plus the recovery fine-tune's. If it matches the pruned and
fine-tuned model, the pruning found an architecture, not useful weights."""
import dataclasses

from lib import config, models, stage
from lib.errors import run
from lib.io import save_json
from lib.train import Recipe, fit, recipe

# the baseline's recipe (not its ImageNet start), and how long the pruned variant recovered
PARAMS = {**stage.COMMON, "finetune": config.part(Recipe, *(f.name for f in dataclasses.fields(Recipe))),
          "structured_finetune": config.part(Recipe, "epochs")}


def main():
    args, params, device, data = stage.start(__doc__, ["--data", "--pruned", "--out", "--record", "--live"], PARAMS,
                                             splits=("train", "val"))
    _, ckpt = models.load_checkpoint(args.pruned)  # checked; only its architecture is used
    arch = ckpt["architecture"]
    model = models.build(arch).to(device)  # a fresh initialisation, seeded by stage.start
    hp = recipe(params.finetune, epochs=params.finetune.epochs + params.structured_finetune.epochs)
    history = fit(model, data, hp, params.seed, params.measure.batch_size, args.live)
    models.save_checkpoint(args.out, model, arch, classes=ckpt.get("classes"))
    save_json({"epochs": hp.epochs, "filters": arch["filters"]}, args.record)
    print(f"validation accuracy {history[-1]['val_accuracy']:.2f}% after {hp.epochs} epochs from scratch -> {args.out}")


if __name__ == "__main__":
    run(main)
