"""unstructured_prune: per-layer sparsities (explicit, or `auto` from the sensitivity results under an
accuracy budget) -> L1-magnitude masks, optional masked fine-tune, the pruned model (dense and
sparse export) and its metrics."""
import argparse
import os

from lib import config, models, runtime
from lib.data import load_split
from lib.errors import run
from lib.io import save_json, save_torch
from lib.measure import measure, read_metrics, relative_to, with_speedup
from lib.pruning import apply_unstructured, make_permanent, sparsity, to_sparse
from lib.sensitivity import levels_from_params, read_results
from lib.train import fit


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="data")
    parser.add_argument("--model", default="models/vgg11_cifar10_finetuned.pth")
    parser.add_argument("--baseline-metrics", default="reports/metrics/finetune.json")
    parser.add_argument("--results", default="reports/unstructured_sensitivity_results.pth")
    parser.add_argument("--out", default="models/unstructured_pruned_vgg11.pth")
    parser.add_argument("--sparse-out", default="models/unstructured_pruned_vgg11_sparse.pth")
    parser.add_argument("--chosen", default="reports/unstructured_sparsities.json")
    parser.add_argument("--metrics", default="reports/metrics/unstructured.json")
    args = parser.parse_args()
    params = config.load("seed", "device", "finetune", "unstructured_prune", "measure")
    p = params["unstructured_prune"]
    device = runtime.setup(params["seed"], params["device"])
    train, val, test = (load_split(f"{args.data}/{name}.pt", device) for name in ("train", "val", "test"))
    model, ckpt = models.load_checkpoint(args.model, device)
    baseline, _ = models.load_checkpoint(args.model, device)
    results, baseline_metrics = read_results(args.results), read_metrics(args.baseline_metrics)

    chosen = levels_from_params(p["sparsities"], p["budget"], results, models.layer_names(model, include_linear=True),
                                "unstructured_prune.sparsities")
    apply_unstructured(model, {name: s for name, s in chosen.items() if s > 0})
    if p["finetune_epochs"]:
        hp = {**params["finetune"], "epochs": p["finetune_epochs"], "lr": p["lr"], "schedule": "cosine"}
        fit(model, train, val, hp, device, params["seed"])
    make_permanent(model)

    save_json({"policy": "auto" if p["sparsities"] == "auto" else "explicit", "budget": p["budget"],
               "sparsities": chosen}, args.chosen)  # with the model, not before the fine-tune: outputs stay a set
    models.save_checkpoint(args.out, model, ckpt["architecture"], classes=ckpt.get("classes"))
    save_torch({"architecture": ckpt["architecture"], "sparse_state_dict": to_sparse(model.state_dict())},
               args.sparse_out)
    metrics = with_speedup(measure(model, args.out, val, test, device, params["measure"]), baseline,
                           params["measure"])
    achieved = sparsity(model)
    metrics.update({
        "sparse_size_bytes": os.path.getsize(args.sparse_out),
        **relative_to(metrics, baseline_metrics),
        "conv_sparsity": achieved["conv_overall"],
        "layer_sparsity": achieved["layers"],
    })
    save_json(metrics, args.metrics)
    print(f"sparsities {chosen}")
    print(f"conv sparsity {achieved['conv_overall']:.3f}, compression {metrics['compression_ratio']:.2f}x, "
          f"test accuracy {metrics['test_accuracy']:.2f}% (drop {metrics['test_accuracy_drop']:.2f} points)")


if __name__ == "__main__":
    run(main)
