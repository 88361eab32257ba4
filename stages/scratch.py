"""scratch: the structured architecture trained from random initialisation (Liu et al. 2019,
"Rethinking the Value of Network Pruning"): the filter counts structured_prune chose, the baseline's
recipe, for the baseline's epochs plus the recovery fine-tune's. If it matches the pruned and
fine-tuned model, the pruning found an architecture, not useful weights."""
from lib import config, models, stage
from lib.errors import run
from lib.measure import read_metrics, save_variant
from lib.train import fit

PARAMS = {
    "finetune": config.keys(config.FINETUNE, *config.RECIPE),  # the baseline's recipe, not its ImageNet start
    "structured_finetune": config.keys(config.RECIPE, "epochs"),
    "measure": config.MEASURE,
}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--pruned", "--baseline-metrics", "--out", "--metrics", "--live"], PARAMS)
    _, ckpt = models.load_checkpoint(args.pruned)  # checked; only its architecture is used
    arch, baseline = ckpt["architecture"], read_metrics(args.baseline_metrics)

    model = models.build(arch).to(device)  # a fresh initialisation, seeded by stage.start
    epochs = params["finetune"]["epochs"] + params["structured_finetune"]["epochs"]
    hp = config.recipe(params["finetune"], epochs=epochs)
    fit(model, data["train"], data["val"], hp, device, params["seed"], params["measure"]["batch_size"], args.live)
    metrics = save_variant(model, arch, args.out, args.metrics, data, device, params["measure"], baseline,
                           ckpt.get("classes"), epochs=hp["epochs"], filters=arch["filters"])
    print(f"test accuracy {metrics['test_accuracy']:.2f}% after {hp['epochs']} epochs from scratch -> {args.out}")


if __name__ == "__main__":
    run(main)
