"""Which int8 calibration method to use: each of lib.quantize.METHODS (onnxruntime's minmax, entropy and
percentile calibrators) quantizes the float exports of a workspace that ran the pipeline, calibrated on
the training images the quantize stage takes (its seeded sample), and each int8 model is scored on the
validation split, never the test split -> a record (JSON) the default of quantize.calibration is chosen
from (minmax, unless another method's mean drop is smaller by more than one validation image), shown on
docs/method.md.

    python -m tools.calibration_choice --workspace . --out results/cpu-short/calibration_choice.json"""
import argparse
import os
import tempfile
import time

from lib import config
from lib.data import load_split
from lib.errors import run
from lib.io import save_json
from lib.measure import deployed_accuracy
from lib.onnx_export import export_path
from lib.quantize import METHODS, calibration_sample, quantize, seven_bit_weights
from lib.variants import VARIANTS
from stages.quantize import PARAMS

MODELS = ("original", "unstructured", "structured_finetuned")
BATCH = 500


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", required=True, help="a folder where the pipeline ran (data/, models/)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    params = config.load(PARAMS, os.path.join(args.workspace, "params.yaml"))
    p = params.quantize  # the workspace's settings, as its quantize stage used them
    images = calibration_sample(load_split(os.path.join(args.workspace, "data", "train.pt")),
                                p.calibration_images, params.seed)
    val = {"val": load_split(os.path.join(args.workspace, "data", "val.pt"))}
    reduce_range = seven_bit_weights(p.reduce_range)
    exports = {v: os.path.join(args.workspace, export_path(VARIANTS[v]["checkpoint"])) for v in MODELS}
    float_accuracy = {v: deployed_accuracy(path, val, BATCH, ("val",))["val_accuracy"] for v, path in exports.items()}
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for method in METHODS:
            row, start = {"method": method}, time.perf_counter()
            for v, path in exports.items():
                int8_path = os.path.join(folder, f"{v}.{method}.int8.onnx")
                quantize(path, int8_path, images, method, reduce_range)
                int8 = deployed_accuracy(int8_path, val, BATCH, ("val",))["val_accuracy"]
                row[v] = {"float_val_accuracy": float_accuracy[v], "int8_val_accuracy": int8,
                          "int8_val_drop": float_accuracy[v] - int8}
            row["int8_val_drop"] = sum(row[v]["int8_val_drop"] for v in exports) / len(exports)
            rows.append(row)
            print(f"{method:10s} int8 validation drop: " + ", ".join(f"{v} {row[v]['int8_val_drop']:+.2f}"
                  for v in exports) + f", mean {row['int8_val_drop']:+.2f} ({time.perf_counter() - start:.0f} s)",
                  flush=True)
    # the first of METHODS (minmax, the simplest) unless another's mean drop is smaller by more than one
    # validation image, the split's resolution: a smaller difference is not a measured one
    resolution = 100 / len(val["val"]["labels"])
    best = min(rows, key=lambda r: r["int8_val_drop"])
    chosen = best if rows[0]["int8_val_drop"] - best["int8_val_drop"] > resolution else rows[0]
    save_json({"split": "val", "calibration_images": p.calibration_images, "reduce_range": reduce_range,
               "models": list(MODELS), "resolution": resolution, "candidates": rows, "chosen": chosen["method"]},
              args.out)
    print(f"chosen (minmax unless another's mean int8 drop on validation is smaller by more than one image, "
          f"{resolution:.2f} points): {chosen['method']}")


if __name__ == "__main__":
    run(main)
