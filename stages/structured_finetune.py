"""structured_finetune: fine-tune the physically smaller model to recover accuracy ->
models/vgg11_cifar10_structured_pruned_finetuned.pth, its metrics and training curves."""
import argparse

from lib import config, models, runtime
from lib.data import load_split
from lib.errors import run
from lib.io import save_json
from lib.measure import measure, read_metrics, relative_to
from lib.train import fit


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    for flag in ("--data", "--baseline-metrics", "--model", "--out", "--metrics", "--live"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    params = config.load("seed", "device", "structured_finetune", "measure")
    cfg = params["measure"]
    device = runtime.setup(params["seed"], params["device"])
    train, val, test = (load_split(f"{args.data}/{name}.pt", device) for name in ("train", "val", "test"))
    model, ckpt = models.load_checkpoint(args.model, device)
    baseline_metrics = read_metrics(args.baseline_metrics)

    fit(model, train, val, params["structured_finetune"], device, params["seed"], args.live)
    models.save_checkpoint(args.out, model, ckpt["architecture"], classes=ckpt.get("classes"))

    metrics = measure(model, args.out, val, test, device, cfg)
    metrics.update(relative_to(metrics, baseline_metrics))
    save_json(metrics, args.metrics)
    print(f"test accuracy {metrics['test_accuracy']:.2f}% (drop {metrics['test_accuracy_drop']:.2f} points) "
          f"-> {args.out}")


if __name__ == "__main__":
    run(main)
