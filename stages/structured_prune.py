"""structured_prune: per-layer filter ratios (explicit, or `auto` from the structured sensitivity under
an accuracy budget) -> a new, physically smaller VGG-11, batch norm optionally recalibrated, its
metrics (size, MACs, latency and speedup over the baseline measured in the same process)."""
import argparse

import torch

from lib import config, models, runtime
from lib.data import load_split
from lib.errors import run
from lib.io import save_json
from lib.measure import measure, read_metrics, relative_to, with_speedup
from lib.pruning import filters_to_keep, remove_filters
from lib.sensitivity import levels_from_params, read_results
from lib.train import evaluate, recalibrate_batchnorm


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="data")
    parser.add_argument("--model", default="models/vgg11_cifar10_finetuned.pth")
    parser.add_argument("--baseline-metrics", default="reports/metrics/finetune.json")
    parser.add_argument("--results", default="reports/structured_sensitivity_results.json")
    parser.add_argument("--out", default="models/vgg11_cifar10_structured_pruned.pth")
    parser.add_argument("--chosen", default="reports/structured_ratios.json")
    parser.add_argument("--metrics", default="reports/metrics/structured_pruned.json")
    args = parser.parse_args()
    params = config.load("seed", "device", "finetune", "structured_prune", "measure")
    p, cfg = params["structured_prune"], params["measure"]
    device = runtime.setup(params["seed"], params["device"])
    train, val, test = (load_split(f"{args.data}/{name}.pt", device) for name in ("train", "val", "test"))
    baseline, ckpt = models.load_checkpoint(args.model, device)
    results, baseline_metrics = read_results(args.results), read_metrics(args.baseline_metrics)

    ratios = levels_from_params(p["ratios"], p["budget"], results, models.layer_names(baseline),
                                "structured_prune.ratios")
    filters_to_keep(baseline, ratios, "structured_prune.ratios")  # every layer keeps a filter: checked before any work
    model, arch = remove_filters(baseline, ckpt["architecture"], ratios)
    val_before = evaluate(model, val, cfg["batch_size"], device)["accuracy"]
    recalibrated = p["bn_recalibration_batches"] > 0 and arch["arch"] == "vgg11_bn"
    if recalibrated:
        recalibrate_batchnorm(model, train, p["bn_recalibration_batches"], params["finetune"]["batch_size"],
                              torch.Generator().manual_seed(params["seed"]))
    save_json({"policy": "auto" if p["ratios"] == "auto" else "explicit", "budget": p["budget"], "ratios": ratios,
               "filters_before": ckpt["architecture"]["filters"], "filters_after": arch["filters"]}, args.chosen)
    models.save_checkpoint(args.out, model, arch, classes=ckpt.get("classes"))

    metrics = with_speedup(measure(model, args.out, val, test, device, cfg), baseline, cfg)
    metrics.update({
        **relative_to(metrics, baseline_metrics),
        "val_accuracy_before_bn_recalibration": val_before,
        "bn_recalibration_gain": metrics["val_accuracy"] - val_before if recalibrated else 0.0,
        "filters": dict(zip(models.layer_names(model), arch["filters"])),
    })
    save_json(metrics, args.metrics)
    print(f"filters {ckpt['architecture']['filters']} -> {arch['filters']}")
    print(f"params -{100 * metrics['params_reduction']:.1f}%, MACs -{100 * metrics['macs_reduction']:.1f}%, "
          f"latency speedup {metrics['latency_speedup']:.2f}x, test accuracy {metrics['test_accuracy']:.2f}%")


if __name__ == "__main__":
    run(main)
