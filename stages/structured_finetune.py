"""structured_finetune: fine-tune the physically smaller model to recover accuracy ->
models/vgg11_cifar10_structured_pruned_finetuned.pth, its metrics and training curves."""
import argparse

from lib import config, models, runtime
from lib.data import load_split
from lib.errors import run
from lib.io import save_json
from lib.measure import measure, read_metrics, relative_to, with_speedup
from lib.train import fit


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="data")
    parser.add_argument("--baseline", default="models/vgg11_cifar10_finetuned.pth")
    parser.add_argument("--baseline-metrics", default="reports/metrics/finetune.json")
    parser.add_argument("--model", default="models/vgg11_cifar10_structured_pruned.pth")
    parser.add_argument("--out", default="models/vgg11_cifar10_structured_pruned_finetuned.pth")
    parser.add_argument("--metrics", default="reports/metrics/structured_finetuned.json")
    parser.add_argument("--live", default="reports/live/structured_finetune")
    args = parser.parse_args()
    params = config.load("seed", "device", "structured_finetune", "measure")
    cfg = params["measure"]
    device = runtime.setup(params["seed"], params["device"])
    train, val, test = (load_split(f"{args.data}/{name}.pt", device) for name in ("train", "val", "test"))
    model, ckpt = models.load_checkpoint(args.model, device)
    baseline, _ = models.load_checkpoint(args.baseline, device)
    baseline_metrics = read_metrics(args.baseline_metrics)

    fit(model, train, val, params["structured_finetune"], device, params["seed"], args.live)
    models.save_checkpoint(args.out, model, ckpt["architecture"], classes=ckpt.get("classes"))

    metrics = with_speedup(measure(model, args.out, val, test, device, cfg), baseline, cfg)
    metrics.update(relative_to(metrics, baseline_metrics))
    save_json(metrics, args.metrics)
    print(f"test accuracy {metrics['test_accuracy']:.2f}% (drop {metrics['test_accuracy_drop']:.2f} points) "
          f"-> {args.out}")


if __name__ == "__main__":
    run(main)
