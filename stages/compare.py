"""compare: every variant's evaluation, timing and Grad-CAM agreement -> reports/comparison.md (the
tables), reports/comparison.png (accuracy against size and against MACs), per variant the DVC metrics
reports/metrics/<variant>.json (`dvc metrics show reports/metrics/*.json`: one row per variant), and every
variant's test accuracy under its short name in reports/accuracy.json (a column each in `dvc exp show`)."""
import argparse
import textwrap

from lib import report
from lib.errors import run
from lib.io import load_json, save_json, save_text
from lib.variants import VARIANTS

NOTE = ("Test split, accuracies in %; `vs dense_extra`, `vs scratch` and "
        "`vs random`: test accuracy minus that of the control with the same training budget (dense_extra: the "
        "baseline trained as many extra epochs; scratch: the structured architecture from random initialisation; "
        "random: the variant's own per-layer sparsities or filter counts, chosen at random, the same schedule and "
        "recovery); MB: the smallest file holding the model (the sparse export where there is one); eff. "
        "MACs: millions of MACs on nonzero weights. Deployment: speedup, ORT and ORT int8: batch-1 CPU latency of "
        "the original over this variant's, in PyTorch, in onnxruntime (its ONNX export) and in onnxruntime in "
        "int8 (against the original's float export: the whole deployment gain); int8 over float: the variant's "
        "float export over its int8 model; every variant timed together (stage timing, medians). Variants of "
        "one architecture time within {floors} of each other (the noise floor): a speedup within it of 1.00x is "
        "marked ~ (not resolved). ORT acc. and int8 acc.: test accuracy of the float and int8 exports in "
        "onnxruntime, int8 drop the difference. Attention agreement with the original over {images} test "
        "images ({method} at {layer}, {size}x{size} maps); faithfulness of each variant's own maps on "
        "{faithfulness_images} test images (ROAD combined: half the difference of the class probability's change "
        "when the least and when the most relevant pixels are imputed away, averaged over the percentiles, "
        "higher is more faithful; CAM-kept: the change when only the map's region is kept), and of the "
        "original's maps scored on each pruned model.")



def main():
    parser = argparse.ArgumentParser(description=__doc__)
    for flag in ("--eval-dir", "--timing", "--table", "--figure", "--metrics-dir", "--accuracy"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    evaluations = report.load_metrics({v: f"{args.eval_dir}/{spec['evaluation']}.json" for v, spec in VARIANTS.items()})
    agreement = load_json(f"{args.eval_dir}/gradcam.json", "Grad-CAM agreement file",
                          keys=["images", "faithfulness_images", "method", "layer", "map_size"])
    timing = load_json(args.timing, "timing file", keys=[*VARIANTS, "noise_floor"])
    controls = {v: {VARIANTS[c]["column"]: c for c in spec["controls"]} for v, spec in VARIANTS.items()}
    table = report.rows(evaluations, agreement, controls, timing)

    for row in table:
        save_json(report.summary(row), f"{args.metrics_dir}/{row['variant']}.json")
    save_json({VARIANTS[row["variant"]]["short"]: round(row["test_accuracy"], 2) for row in table}, args.accuracy)
    text = report.markdown(table)
    floors = ", ".join(f"{100 * floor:.1f} % ({runtime})" for runtime, floor in timing["noise_floor"].items())
    note = textwrap.fill(NOTE.format(**agreement, floors=floors, size=agreement["map_size"][0]), 100)
    save_text(f"# Model variants compared\n\n{note}\n\n{text}", args.table)
    report.figure(table, args.figure)
    print(text)


if __name__ == "__main__":
    run(main)
