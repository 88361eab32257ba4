"""dense_extra: the same-budget control (Blalock et al. 2020). The unpruned baseline trained for the
extra epochs the pruned variants received after it, on their recipe (cosine, the fine-tune's batch
size, momentum, weight decay and augmentation): a pruned model is compared with this, so the effect
of pruning is not confused with the effect of more training. Its epochs must equal the variants'
recovery epochs (structured_finetune.epochs, unstructured_prune.finetune_epochs), or it controls
nothing: unequal budgets are refused unless dense_extra.allow_unequal_budget says otherwise."""
import dataclasses

from lib import config, models, stage
from lib.config import setting
from lib.errors import UserError, run
from lib.io import save_json
from lib.train import RECOVERY_FROM_FINETUNE, Recipe, fit, recipe


@dataclasses.dataclass(frozen=True)
class DenseExtra:
    epochs: int = setting(config.positive_int)
    lr: float = setting(config.positive_number)
    allow_unequal_budget: bool = setting(config.boolean)


PARAMS = {**stage.COMMON, "finetune": RECOVERY_FROM_FINETUNE, "dense_extra": DenseExtra,
          "structured_finetune": config.part(Recipe, "epochs"),
          "unstructured_prune": config.unchecked("finetune_epochs")}  # for the rule; unstructured_prune checks it


def budgets(params):
    return {"dense_extra.epochs": params.dense_extra.epochs,
            "structured_finetune.epochs": params.structured_finetune.epochs,
            "unstructured_prune.finetune_epochs": params.unstructured_prune.finetune_epochs}


def unequal(params):
    return len(set(budgets(params).values())) > 1


def check_budgets(params):
    """The rule between sections: the control trains as long as the variants it controls, unless allowed."""
    if unequal(params) and not params.dense_extra.allow_unequal_budget:
        raise UserError(f"{config.PARAMS_FILE}: the same-budget control trains as long as the variants it controls, "
                        "but " + ", ".join(f"{key} = {value}" for key, value in budgets(params).items()) + " differ; "
                        "make them equal, or set dense_extra.allow_unequal_budget: true to train it anyway (its "
                        "comparisons are then not same-budget).")


def main():
    args, params, device, data = stage.start(__doc__, ["--data", "--model", "--out", "--record", "--live"], PARAMS,
                                             splits=("train", "val"))
    check_budgets(params)
    model, ckpt = models.load_checkpoint(args.model, device)
    hp = recipe(params.finetune, epochs=params.dense_extra.epochs, lr=params.dense_extra.lr, schedule="cosine")
    history = fit(model, data, hp, params.seed, params.measure.batch_size, args.live)
    models.save_checkpoint(args.out, model, ckpt["architecture"], classes=ckpt.get("classes"))
    save_json({"extra_epochs": hp.epochs, **({"unequal_budgets": budgets(params)} if unequal(params) else {})},
              args.record)  # unequal only where allowed: recorded
    print(f"validation accuracy {history[-1]['val_accuracy']:.2f}% after {hp.epochs} more epochs -> {args.out}")


if __name__ == "__main__":
    run(main)
