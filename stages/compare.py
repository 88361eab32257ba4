"""compare: every variant's metrics -> reports/comparison.md (one table) and reports/comparison.png
(accuracy against size and against MACs)."""
import argparse

from lib import report
from lib.errors import run
from lib.io import save_text


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics-dir", default="reports/metrics")
    parser.add_argument("--table", default="reports/comparison.md")
    parser.add_argument("--figure", default="reports/comparison.png")
    args = parser.parse_args()
    variants = {"original": "finetune", "unstructured": "unstructured", "structured": "structured_pruned",
                "structured_finetuned": "structured_finetuned", "dense_extra": "dense_extra", "scratch": "scratch"}
    controls = {"unstructured": ["dense_extra"], "structured_finetuned": ["dense_extra", "scratch"]}
    metrics = report.load_metrics({v: f"{args.metrics_dir}/{name}.json" for v, name in variants.items()})
    agreement = report.load_metrics({"gradcam": f"{args.metrics_dir}/gradcam.json"}, keys=["images"])["gradcam"]
    table = report.rows(metrics, agreement, controls)
    text = report.markdown(table)
    save_text("# Model variants compared\n\nTest split; drop in points against the original; `vs dense_extra` and "
              "`vs scratch`: test accuracy minus that of the control with the same training budget (dense_extra: "
              "the baseline trained as many extra epochs; scratch: the structured architecture from random "
              "initialisation); attention agreement (Grad-CAM, "
              f"{agreement['images']} test images) against the original.\n\n" + text, args.table)
    report.figure(table, args.figure)
    print(text)


if __name__ == "__main__":
    run(main)
