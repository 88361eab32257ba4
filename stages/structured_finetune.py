"""structured_finetune: the physically smaller model trained to recover accuracy (the recovery recipe,
distilled from the baseline where it says so) -> models/vgg11_cifar10_structured_pruned_finetuned.pth and
its training curves."""
from lib import models, stage
from lib.errors import Diverged, param, run
from lib.train import BASELINE_RECIPE, Recovery, fit, recovery

PARAMS = {**stage.COMMON, "finetune": BASELINE_RECIPE, "recovery": Recovery}


def recover(args, params, device, data, teacher_path):
    """The recovery step: the checkpoint args.model trained on the recovery recipe (distilled from the
    checkpoint at teacher_path where recovery.distill_weight is set), saved to args.out with its training curves
    in args.live; (its Training, the history). dense_extra trains its control with this same step."""
    model, ckpt = models.load_checkpoint(args.model, device)
    teacher = models.load_checkpoint(teacher_path, device)[0] if params.recovery.distill_weight else None
    with param("recovery.epochs"):
        training = recovery(params.finetune, params.recovery, teacher)
    with param("recovery.lr" if training.rewind is None else "finetune.lr", Diverged):
        history = fit(model, data, training, params.seed, params.measure.batch_size, args.live)
    models.save_checkpoint(args.out, model, ckpt["architecture"], classes=ckpt.get("classes"))
    return training, history


def main():
    args, params, device, data = stage.start(__doc__, ["--data", "--model", "--teacher", "--out", "--live"], PARAMS,
                                             splits=("train", "val"))
    _, history = recover(args, params, device, data, args.teacher)
    print(f"validation accuracy {history[-1]['val_accuracy']:.2f}% -> {args.out}")


if __name__ == "__main__":
    run(main)
