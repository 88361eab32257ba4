"""scratch: the structured architecture trained from random initialisation (Liu et al. 2019,
"Rethinking the Value of Network Pruning"): the filter counts structured_prune chose, the baseline's
recipe, for the baseline's epochs plus the recovery's; with recovery.distill_scratch, distilled from the
baseline as the recoveries are. If it matches the pruned and fine-tuned model, the pruning found an
architecture, not useful weights."""
from lib import config, models, stage
from lib.errors import Diverged, param, run
from lib.io import save_json
from lib.train import BASELINE_RECIPE, Recovery, Teacher, Training, fit, recipe

PARAMS = {**stage.COMMON, "finetune": BASELINE_RECIPE,
          "recovery": config.part(Recovery, "epochs", "distill_weight", "distill_temperature", "distill_scratch")}


def main():
    args, params, device, data = stage.start(__doc__, ["--data", "--pruned", "--teacher", "--out", "--record",
                                                       "--live"], PARAMS, splits=("train", "val"))
    _, ckpt = models.load_checkpoint(args.pruned)  # checked; only its architecture is used
    arch, rec = ckpt["architecture"], params.recovery
    teacher = None
    if rec.distill_scratch and rec.distill_weight:
        teacher = Teacher(models.load_checkpoint(args.teacher, device)[0], rec.distill_weight, rec.distill_temperature)
    model = models.build(arch).to(device)  # a fresh initialisation, seeded by stage.start
    hp = recipe(params.finetune, epochs=params.finetune.epochs + rec.epochs)
    with param("finetune.lr", Diverged):
        history = fit(model, data, Training(hp, teacher=teacher), params.seed, params.measure.batch_size,
                      args.live)
    models.save_checkpoint(args.out, model, arch, classes=ckpt.get("classes"))
    save_json({"epochs": hp.epochs, "filters": arch["filters"], **({"distilled": True} if teacher else {})},
              args.record)
    print(f"validation accuracy {history[-1]['val_accuracy']:.2f}% after {hp.epochs} epochs from scratch -> {args.out}")


if __name__ == "__main__":
    run(main)
