"""dense_extra: the same-budget control (Blalock et al. 2020). The unpruned baseline trained for the
extra epochs the pruned variants receive after it, on their recipe (the recovery section, distillation
included): a pruned model is compared with this, so the effect of pruning is not confused with the effect
of more training."""
from lib import models, stage
from lib.errors import Diverged, param, run
from lib.io import save_json
from lib.train import BASELINE_RECIPE, Recovery, fit, recovery

PARAMS = {**stage.COMMON, "finetune": BASELINE_RECIPE, "recovery": Recovery}


def main():
    args, params, device, data = stage.start(__doc__, ["--data", "--model", "--out", "--record", "--live"], PARAMS,
                                             splits=("train", "val"))
    model, ckpt = models.load_checkpoint(args.model, device)
    teacher = models.load_checkpoint(args.model, device)[0] if params.recovery.distill_weight else None
    with param("recovery.epochs"):
        training = recovery(params.finetune, params.recovery, teacher)
    with param("recovery.lr" if training.rewind is None else "finetune.lr", Diverged):
        history = fit(model, data, training, params.seed, params.measure.batch_size, args.live)
    models.save_checkpoint(args.out, model, ckpt["architecture"], classes=ckpt.get("classes"))
    save_json({"extra_epochs": training.recipe.epochs}, args.record)
    print(f"validation accuracy {history[-1]['val_accuracy']:.2f}% after {training.recipe.epochs} more epochs "
          f"-> {args.out}")


if __name__ == "__main__":
    run(main)
