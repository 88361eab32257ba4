"""compare: every variant's evaluation, timing and Grad-CAM agreement -> reports/comparison.md (one
table), reports/comparison.png (accuracy against size and against MACs) and, per variant, the DVC
metrics reports/metrics/<variant>.json (`dvc metrics show`: one row per variant)."""
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
        "fine-tune); MB: the smallest file holding the model (the sparse export where there is one); eff. "
        "MACs: millions of MACs on nonzero weights; speedup and ORT: batch-1 CPU latency of the original over "
        "this variant's, in PyTorch and in onnxruntime (its ONNX export), every variant timed together (stage "
        "timing, medians). Attention agreement with the original over {images} test images (Grad-CAM); "
        "faithfulness of each variant's own CAMs on {faithfulness_images} test images (ROAD combined: half the "
        "difference of the class probability's change when the least and when the most relevant pixels are "
        "imputed away, averaged over the percentiles, higher is more faithful; CAM-kept: the change when only "
        "the CAM region is kept), and of the original's CAMs scored on each pruned model.")



def main():
    parser = argparse.ArgumentParser(description=__doc__)
    for flag in ("--eval-dir", "--timing", "--table", "--figure", "--metrics-dir"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    evaluations = report.load_metrics({v: f"{args.eval_dir}/{spec['evaluation']}.json" for v, spec in VARIANTS.items()})
    agreement = load_json(f"{args.eval_dir}/gradcam.json", "Grad-CAM agreement file",
                          keys=["images", "faithfulness_images"])
    timing = load_json(args.timing, "timing file", keys=list(VARIANTS))
    controls = {v: {VARIANTS[c]["column"]: c for c in spec["controls"]} for v, spec in VARIANTS.items()}
    table = report.rows(evaluations, agreement, controls, timing)

    for row in table:
        save_json(report.summary(row), f"{args.metrics_dir}/{row['variant']}.json")
    text = report.markdown(table)
    note = textwrap.fill(NOTE.format(**agreement), 100)
    save_text(f"# Model variants compared\n\n{note}\n\n{text}", args.table)
    report.figure(table, args.figure)
    print(text)


if __name__ == "__main__":
    run(main)
