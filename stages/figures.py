"""figures: the study's figures (PNG), drawn from the data the computing stages wrote: each sensitivity
sweep (lines; a heatmap of the drop), conv1's weights before/after pruning, one layer's filter norms and
weights before/after removal, both trade-off curves beside the trained variants and their controls, and
the Grad-CAM comparison. Apart from the stages that compute, so a change to figure code re-runs only
this stage."""
import argparse

from lib import models, plots
from lib.errors import run
from lib.io import load_json, load_torch, named_paths
from lib.pruning.sensitivity import read_results

FIGURES = ("unstructured_sensitivity", "unstructured_conv1_histogram", "structured_sensitivity_heatmap",
           "structured_filter_norms", "unstructured_tradeoff", "structured_tradeoff", "grad_cam_comparison")
INPUTS = ("--model", "--unstructured-sweep", "--unstructured-sweep-data", "--structured-sweep",
          "--structured-sweep-data", "--unstructured-curves", "--unstructured-curves-data", "--structured-curves",
          "--structured-curves-data", "--chosen", "--grad-cam-data")


def tradeoffs(args, evaluations, out):
    """Both trade-off figures: the one-shot curves, the trained variants and their controls as points, the
    dense models as lines."""
    ev, chosen = evaluations, load_json(args.chosen, "chosen-levels report", keys=["allocation", "schedule"])
    lines = [("original", ev["original"]["test_accuracy"]), ("dense_extra", ev["dense_extra"]["test_accuracy"])]
    spec = load_json(args.unstructured_curves_data, "figure data", keys=["methods", "xlabel", "title"])
    points = [(f"{chosen['allocation']}, {chosen['schedule']} + fine-tune (the variant)",
               ev["unstructured"]["conv_sparsity"], ev["unstructured"]["test_accuracy"]),
              ("random weights at its levels (control)", ev["unstructured_random"]["conv_sparsity"],
               ev["unstructured_random"]["test_accuracy"])]
    plots.tradeoff_figure(load_json(args.unstructured_curves, "curves"), spec["methods"], points, lines,
                          out["unstructured_tradeoff"], spec["xlabel"], spec["title"])
    spec = load_json(args.structured_curves_data, "figure data", keys=["methods", "kind", "xlabel", "title"])
    labels = {"structured": "structured variant, one-shot", "structured_finetuned": "structured variant + fine-tune",
              "structured_random": "random filters at its counts + fine-tune (control)",
              "scratch": "scratch (control, same architecture)"}
    points = [(label, 1 - ev[v][spec["kind"]] / ev["original"][spec["kind"]], ev[v]["test_accuracy"])
              for v, label in labels.items()]
    plots.tradeoff_figure(load_json(args.structured_curves, "curves"), spec["methods"], points, lines,
                          out["structured_tradeoff"], spec["xlabel"], spec["title"])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    for flag in INPUTS:
        parser.add_argument(flag, required=True)
    parser.add_argument("--eval", action="append", required=True, metavar="VARIANT=JSON",
                        help="a variant's evaluation (stage evaluate)")
    parser.add_argument("--out", action="append", required=True, metavar="FIGURE=PNG", help=f"one of {FIGURES}")
    args = parser.parse_args()
    out = named_paths(args.out, "--out")
    evaluations = {v: load_json(path, "evaluation", keys=["test_accuracy"])
                   for v, path in named_paths(args.eval, "--eval").items()}
    baseline, _ = models.load_checkpoint(args.model)

    results, data = read_results(args.unstructured_sweep), load_json(args.unstructured_sweep_data, "figure data")
    plots.sensitivity_lines(results, out["unstructured_sensitivity"], data["xlabel"], data["title"])
    before = models.layer(baseline, "conv1").weight.detach()
    after = before.flatten().clone()
    after[data["histogram"]["zeroed"]] = 0
    plots.weight_histograms(before, after, out["unstructured_conv1_histogram"], data["histogram"]["title"])

    results, data = read_results(args.structured_sweep), load_json(args.structured_sweep_data, "figure data")
    plots.sensitivity_heatmap(results, out["structured_sensitivity_heatmap"], title=data["title"])
    layer, removed = data["filters"]["layer"], data["filters"]["removed"]
    weight = models.layer(baseline, layer).weight.detach()
    kept = sorted(set(range(len(weight))) - set(removed))
    plots.filter_norms_figure(data["filters"]["norms"], removed, weight, weight[kept],
                              out["structured_filter_norms"], layer)

    tradeoffs(args, evaluations, out)
    plots.grad_cam_figure(load_torch(args.grad_cam_data, "Grad-CAM figure data"), out["grad_cam_comparison"])
    print("\n".join(out.values()))


if __name__ == "__main__":
    run(main)
