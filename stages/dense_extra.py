"""dense_extra: the same-budget control (Blalock et al. 2020). The unpruned baseline trained for the
extra epochs the pruned variants received after it, on their recipe (cosine, the fine-tune's batch
size, momentum, weight decay and augmentation): a pruned model is compared with this, so the effect
of pruning is not confused with the effect of more training."""
from lib import config, models, stage
from lib.errors import run
from lib.measure import read_metrics, save_variant
from lib.train import fit

PARAMS = {
    "finetune": config.keys(config.FINETUNE, "batch_size", "momentum", "weight_decay", "augment"),
    "dense_extra": {"epochs": config.positive_int, "lr": config.positive_number},
    "measure": config.MEASURE,
}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--baseline-metrics", "--out", "--metrics", "--live"], PARAMS)
    model, ckpt = models.load_checkpoint(args.model, device)
    baseline = read_metrics(args.baseline_metrics)

    hp = {**params["finetune"], **params["dense_extra"], "schedule": "cosine"}
    fit(model, data["train"], data["val"], hp, device, params["seed"], args.live)
    metrics = save_variant(model, ckpt["architecture"], args.out, args.metrics, data, device, params["measure"],
                           baseline, ckpt.get("classes"), extra_epochs=hp["epochs"])
    print(f"test accuracy {metrics['test_accuracy']:.2f}% after {hp['epochs']} more epochs -> {args.out}")


if __name__ == "__main__":
    run(main)
