"""scratch: the structured architecture trained from random initialisation (Liu et al. 2019,
"Rethinking the Value of Network Pruning"): the filter counts structured_prune chose, the baseline's
recipe, for the baseline's epochs plus the recovery fine-tune's. If it matches the pruned and
fine-tuned model, the pruning found an architecture, not useful weights."""
import argparse

from lib import config, models, runtime
from lib.data import load_split
from lib.errors import run
from lib.io import save_json
from lib.measure import measure, read_metrics, relative_to
from lib.train import fit


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    for flag in ("--data", "--pruned", "--baseline-metrics", "--out", "--metrics", "--live"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    params = config.load("seed", "device", "finetune", "structured_finetune", "measure")
    device = runtime.setup(params["seed"], params["device"])
    train, val, test = (load_split(f"{args.data}/{name}.pt", device) for name in ("train", "val", "test"))
    _, ckpt = models.load_checkpoint(args.pruned)  # checked; only its architecture is used
    arch, baseline_metrics = ckpt["architecture"], read_metrics(args.baseline_metrics)

    model = models.build(arch).to(device)  # a fresh initialisation (seeded)
    hp = {**params["finetune"], "epochs": params["finetune"]["epochs"] + params["structured_finetune"]["epochs"]}
    fit(model, train, val, hp, device, params["seed"], args.live)
    models.save_checkpoint(args.out, model, arch, classes=ckpt.get("classes"))
    metrics = measure(model, args.out, val, test, device, params["measure"])
    metrics.update({**relative_to(metrics, baseline_metrics), "epochs": hp["epochs"], "filters": arch["filters"]})
    save_json(metrics, args.metrics)
    print(f"test accuracy {metrics['test_accuracy']:.2f}% after {hp['epochs']} epochs from scratch -> {args.out}")


if __name__ == "__main__":
    run(main)
