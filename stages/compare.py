"""compare: every variant's evaluation, timing and Grad-CAM agreement -> reports/comparison.md (one
table), reports/comparison.png (accuracy against size and against MACs) and, per variant, the DVC
metrics reports/metrics/<variant>.json (`dvc metrics show`: one row per variant)."""
import argparse

from lib import report
from lib.errors import run
from lib.io import load_json, save_json, save_text
from lib.variants import VARIANTS



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
    save_text("# Model variants compared\n\nTest split; drop in points against the original; `vs dense_extra` and "
              "`vs scratch`: test accuracy minus that of the control with the same training budget (dense_extra: "
              "the baseline trained as many extra epochs; scratch: the structured architecture from random "
              "initialisation); latency at batch 1 on the CPU, all variants timed together (stage timing, median, "
              "speedup against the original); attention agreement (Grad-CAM, "
              f"{agreement['images']} test images) against the original; faithfulness of each variant's own "
              f"Grad-CAM on {agreement['faithfulness_images']} test images (ROAD combined: half the difference of the "
              "class probability's change when the least and when the most relevant pixels are imputed away, "
              "averaged over the percentiles; higher is more faithful; CAM-kept: the change when only the CAM "
              "region is kept), and of the original's CAMs scored on each pruned model.\n\n" + text, args.table)
    report.figure(table, args.figure)
    print(text)


if __name__ == "__main__":
    run(main)
