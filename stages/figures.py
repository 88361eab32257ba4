"""figures: the study's figures (PNG), drawn from the data the computing stages wrote: each sensitivity
sweep (lines; a heatmap of the drop), conv1's weights before/after pruning, one layer's filter norms and
weights before/after removal, both trade-off curves beside the trained variants and their controls (over
the whole accuracy range, and zoomed on the trained models), and the Grad-CAM comparison. Apart from the
stages that compute, so a change to figure code re-runs only this stage."""
import argparse

from lib import models, plots
from lib.errors import run
from lib.io import load_json, load_torch, named_paths
from lib.pruning.sweep_results import read_results

FIGURES = ("unstructured_sensitivity", "unstructured_conv1_histogram", "structured_sensitivity_heatmap",
           "structured_filter_norms", "unstructured_tradeoff", "structured_tradeoff", "grad_cam_comparison")
INPUTS = ("--model", "--unstructured-sweep", "--unstructured-sweep-data", "--structured-sweep",
          "--structured-sweep-data", "--unstructured-curves", "--unstructured-curves-data", "--structured-curves",
          "--structured-curves-data", "--chosen", "--grad-cam-data")


def curves(rows, methods, suffix=""):
    """{allocation: [(x, accuracy, 0)]} from one seed's trade-off rows ({"target", <allocation><suffix>:
    accuracy, <allocation>_achieved: the reduction reached, where recorded}): x is what was reached."""
    return {m: [(r.get(f"{m}_achieved", r["target"]), r[m + suffix], 0.0) for r in rows if m + suffix in r]
            for m in methods}


def panel(rows_path, spec_path, points):
    """(A trade-off figure's one panel: the curves of a trade-off stage's rows and labels, `points`; the labels)."""
    rows = load_json(rows_path, "curves")
    spec = load_json(spec_path, "figure data", keys=["methods", "xlabel", "title"])
    stale = {m: xs for m, xs in curves(rows, spec["methods"], "_before_recalibration").items() if xs}
    return plots.Panel(spec["xlabel"], curves(rows, spec["methods"]), points, stale), spec


def tradeoffs(args, evaluations, out, classes):
    """Both trade-off figures of this seed (no spread: sd 0): the one-shot curves (before batch-norm
    recalibration dashed, where measured), the trained variants and their controls as points, the dense
    models as lines, chance level."""
    ev, chosen = evaluations, load_json(args.chosen, "chosen-levels report", keys=["allocation", "schedule"])
    lines = [(v, ev[v]["test_accuracy"], 0.0) for v in ("original", "dense_extra")]
    points = [plots.Point(label, ev[v]["conv_sparsity"], ev[v]["test_accuracy"])
              for v, label in plots.tradeoff_labels("unstructured", chosen).items()]
    unstructured, spec = panel(args.unstructured_curves, args.unstructured_curves_data, points)
    plots.tradeoff_figure(plots.Tradeoff(spec["title"], [unstructured], lines, 100 / classes),
                          out["unstructured_tradeoff"])
    kind = load_json(args.structured_curves_data, "figure data", keys=["kind"])["kind"]
    points = [plots.Point(label, 1 - ev[v][kind] / ev["original"][kind], ev[v]["test_accuracy"],
                          zoom=v not in plots.ONE_SHOT)
              for v, label in plots.tradeoff_labels("structured", chosen).items()]
    structured, spec = panel(args.structured_curves, args.structured_curves_data, points)
    plots.tradeoff_figure(plots.Tradeoff(spec["title"], [structured], lines, 100 / classes),
                          out["structured_tradeoff"])


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
    baseline, info = models.load_checkpoint(args.model)

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

    tradeoffs(args, evaluations, out, info["architecture"]["num_classes"])
    plots.grad_cam_figure(load_torch(args.grad_cam_data, "Grad-CAM figure data"), out["grad_cam_comparison"])
    print("\n".join(out.values()))


if __name__ == "__main__":
    run(main)
