"""Which class activation map to show: every candidate (a method of lib.gradcam.METHODS at a layer of
each resolution, 8x8, 4x4 and 2x2 on 32x32 images) scored by the faithfulness of its maps (ROAD combined,
the CAM-kept confidence change; lib.gradcam) on validation images, never test ones, for each model of a
workspace that ran the pipeline -> a record (JSON) the gradcam stage's default is chosen from, shown on
docs/method.md.

    python -m tools.cam_choice --workspace . --out results/cpu-short/cam_choice.json --images 200"""
import argparse
import os
import time

import torch

from lib import config, gradcam, models, runtime
from lib.data import load_split
from lib.errors import run
from lib.io import save_json
from lib.variants import VARIANTS
from stages.gradcam import Gradcam

LAYERS = ("conv4", "conv6", "conv8")  # 8x8, 4x4 and 2x2 maps
MODELS = ("original", "unstructured", "structured_finetuned")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", required=True, help="a folder where the pipeline ran (data/, models/)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--images", type=int, default=200, help="validation images (one per class first)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device = runtime.setup(args.seed, "auto", "auto")
    val = load_split(os.path.join(args.workspace, "data", "val.pt"))
    picked = gradcam.pick_images(val["labels"], args.images, args.seed)
    images = val["images"][picked]
    params = config.load({"gradcam": Gradcam}, os.path.join(args.workspace, "params.yaml"))
    percentiles = params.gradcam.road_percentiles  # the workspace's, as its gradcam stage scored them
    loaded = {v: models.load_checkpoint(os.path.join(args.workspace, VARIANTS[v]["checkpoint"]), device)[0]
              for v in MODELS}
    rows = []
    for method in gradcam.METHODS:
        for layer in LAYERS:
            row = {"method": method, "layer": layer, "size": gradcam.map_size(layer, images.shape[-1])}
            start = time.perf_counter()
            for v, model in loaded.items():
                cams, preds, _ = gradcam.compute_cams(model, layer, images, None, 100, method)
                torch.manual_seed(args.seed)  # the same imputation noise for every candidate
                scores = gradcam.summarize(gradcam.faithfulness(model, images, cams, preds, percentiles, 100))
                row[v] = {key: scores[f"{key}_mean"] for key in ("road_combined", "cam_keep_change")}
            row["road_combined"] = sum(row[v]["road_combined"] for v in loaded) / len(loaded)
            rows.append(row)
            print(f"{method:10s} {layer} ({row['size']}x{row['size']}): ROAD combined " + ", ".join(
                f"{v} {row[v]['road_combined']:+.4f}" for v in loaded) + f" ({time.perf_counter() - start:.0f} s)",
                flush=True)
    best = max((r for r in rows if r["size"] >= 4), key=lambda r: r["road_combined"])
    save_json({"split": "val", "images": args.images, "percentiles": percentiles, "models": list(MODELS),
               "candidates": rows, "chosen": {"method": best["method"], "layer": best["layer"]}}, args.out)
    print(f"chosen (highest mean ROAD combined at 4x4 or finer): {best['method']} at {best['layer']}")


if __name__ == "__main__":
    run(main)
