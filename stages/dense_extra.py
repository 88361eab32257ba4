"""dense_extra: the same-budget control (Blalock et al. 2020). The unpruned baseline trained for the
extra epochs the pruned variants received after it, on their recipe (cosine, the fine-tune's batch
size, momentum, weight decay and augmentation): a pruned model is compared with this, so the effect
of pruning is not confused with the effect of more training."""
import argparse

from lib import config, models, runtime
from lib.data import load_split
from lib.errors import run
from lib.io import save_json
from lib.measure import measure, read_metrics, relative_to
from lib.train import fit


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    for flag in ("--data", "--model", "--baseline-metrics", "--out", "--metrics", "--live"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    params = config.load("seed", "device", "finetune", "dense_extra", "measure")
    device = runtime.setup(params["seed"], params["device"])
    train, val, test = (load_split(f"{args.data}/{name}.pt", device) for name in ("train", "val", "test"))
    model, ckpt = models.load_checkpoint(args.model, device)
    baseline_metrics = read_metrics(args.baseline_metrics)

    hp = {**params["finetune"], **params["dense_extra"], "schedule": "cosine"}
    fit(model, train, val, hp, device, params["seed"], args.live)
    models.save_checkpoint(args.out, model, ckpt["architecture"], classes=ckpt.get("classes"))
    metrics = measure(model, args.out, val, test, device, params["measure"])
    metrics.update({**relative_to(metrics, baseline_metrics), "extra_epochs": hp["epochs"]})
    save_json(metrics, args.metrics)
    print(f"test accuracy {metrics['test_accuracy']:.2f}% after {hp['epochs']} more epochs -> {args.out}")


if __name__ == "__main__":
    run(main)
