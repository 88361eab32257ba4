"""dense_extra: the same-budget control (Blalock et al. 2020). The unpruned baseline trained for the
extra epochs the pruned variants received after it, on their recipe (cosine, the fine-tune's batch
size, momentum, weight decay and augmentation): a pruned model is compared with this, so the effect
of pruning is not confused with the effect of more training. Its epochs must equal the variants'
recovery epochs (structured_finetune.epochs, unstructured_prune.finetune_epochs), or it controls
nothing: unequal budgets are refused unless dense_extra.allow_unequal_budget says otherwise."""
from lib import config, models, stage
from lib.errors import run
from lib.measure import read_metrics, save_variant
from lib.train import fit

PARAMS = {
    "finetune": config.RECOVERY_FROM_FINETUNE,
    "dense_extra": {"epochs": config.positive_int, "lr": config.positive_number,
                    "allow_unequal_budget": config.boolean},
    "structured_finetune": config.keys(config.RECIPE, "epochs"),
    "unstructured_prune": config.Keys(finetune_epochs=config.non_negative_int),
    "measure": config.MEASURE,
}


def budgets(params):
    return {"dense_extra.epochs": params["dense_extra"]["epochs"],
            "structured_finetune.epochs": params["structured_finetune"]["epochs"],
            "unstructured_prune.finetune_epochs": params["unstructured_prune"]["finetune_epochs"]}


def unequal(params):
    return len(set(budgets(params).values())) > 1


RULES = [(("dense_extra", "structured_finetune", "unstructured_prune"),
          lambda p: unequal(p) and not p["dense_extra"]["allow_unequal_budget"],
          lambda p: "the same-budget control trains as long as the variants it controls, but " + ", ".join(
              f"{key} = {value}" for key, value in budgets(p).items()) + " differ; make them equal, or set "
          "dense_extra.allow_unequal_budget: true to train it anyway (its comparisons are then not same-budget)")]


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--baseline-metrics", "--out", "--metrics", "--live"], PARAMS, RULES)
    model, ckpt = models.load_checkpoint(args.model, device)
    baseline = read_metrics(args.baseline_metrics)

    hp = config.recipe(params["finetune"], epochs=params["dense_extra"]["epochs"], lr=params["dense_extra"]["lr"],
                       schedule="cosine")
    fit(model, data["train"], data["val"], hp, device, params["seed"], params["measure"]["batch_size"], args.live)
    metrics = save_variant(model, ckpt["architecture"], args.out, args.metrics, data, device, params["measure"],
                           baseline, ckpt.get("classes"), extra_epochs=hp["epochs"],
                           **({"unequal_budgets": budgets(params)} if unequal(params) else {}))  # allowed: recorded
    print(f"test accuracy {metrics['test_accuracy']:.2f}% after {hp['epochs']} more epochs -> {args.out}")


if __name__ == "__main__":
    run(main)
