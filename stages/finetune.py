"""finetune: VGG-11 with a 10-class head trained on the training split (optionally from ImageNet
weights) -> models/vgg11_cifar10_finetuned.pth and reports/eval/finetune.json."""
import argparse

from lib import config, models, runtime
from lib.data import load_split
from lib.errors import run
from lib.io import save_json
from lib.measure import measure
from lib.train import fit


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="data")
    parser.add_argument("--model", default="models/vgg11_cifar10_finetuned.pth")
    parser.add_argument("--metrics", default="reports/eval/finetune.json")
    parser.add_argument("--live", default="reports/live/finetune", help="dvclive folder (per-epoch curves)")
    args = parser.parse_args()
    params = config.load("seed", "device", "model", "finetune", "measure")
    device = runtime.setup(params["seed"], params["device"])
    train, val, test = (load_split(f"{args.data}/{name}.pt", device) for name in ("train", "val", "test"))

    arch = models.architecture(params["model"]["arch"], params["model"]["head"], len(train["classes"]))
    model = models.build(arch)
    if params["finetune"]["pretrained"]:
        models.load_imagenet_weights(model, arch)
    model.to(device)
    fit(model, train, val, params["finetune"], device, params["seed"], args.live)

    models.save_checkpoint(args.model, model, arch, classes=train["classes"])
    metrics = measure(model, args.model, val, test, device, params["measure"])
    save_json(metrics, args.metrics)
    print(f"test accuracy {metrics['test_accuracy']:.2f}%  ->  {args.model}")


if __name__ == "__main__":
    run(main)
