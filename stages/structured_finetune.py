"""structured_finetune: fine-tune the physically smaller model to recover accuracy ->
models/vgg11_cifar10_structured_pruned_finetuned.pth, its metrics and training curves."""
from lib import config, models, stage
from lib.errors import run
from lib.measure import read_metrics, save_variant
from lib.train import fit

PARAMS = {"structured_finetune": config.RECIPE, "measure": config.MEASURE}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--baseline-metrics", "--model", "--out", "--metrics", "--live"], PARAMS)
    model, ckpt = models.load_checkpoint(args.model, device)
    baseline = read_metrics(args.baseline_metrics)

    fit(model, data["train"], data["val"], params["structured_finetune"], device, params["seed"],
        params["measure"]["batch_size"], args.live)
    metrics = save_variant(model, ckpt["architecture"], args.out, args.metrics, data, device, params["measure"],
                           baseline, ckpt.get("classes"))
    print(f"test accuracy {metrics['test_accuracy']:.2f}% (drop {metrics['test_accuracy_drop']:.2f} points) "
          f"-> {args.out}")


if __name__ == "__main__":
    run(main)
