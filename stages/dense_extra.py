"""dense_extra: the same-budget control (Blalock et al. 2020). The unpruned baseline trained for the
extra epochs the pruned variants receive after it, on their recipe (the recovery section, distillation
included) and by the same step as structured_finetune (its recover()): a pruned model is compared with
this, so the effect of pruning is not confused with the effect of more training."""
from lib import stage
from lib.errors import run
from lib.io import save_json
from stages.structured_finetune import PARAMS, recover


def main():
    args, params, device, data = stage.start(__doc__, ["--data", "--model", "--out", "--record", "--live"], PARAMS,
                                             splits=("train", "val"))
    training, history = recover(args, params, device, data, teacher_path=args.model)
    save_json({"extra_epochs": training.recipe.epochs}, args.record)
    print(f"validation accuracy {history[-1]['val_accuracy']:.2f}% after {training.recipe.epochs} more epochs "
          f"-> {args.out}")


if __name__ == "__main__":
    run(main)
