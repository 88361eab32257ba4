"""quantize: every variant's ONNX export quantized to int8 by onnxruntime's static quantization (QDQ,
per-channel int8 weights, int8 activations calibrated on a seeded sample of training images, never
validation or test ones) -> <export>.int8.onnx beside each float export, and a report of what was done."""
import argparse
import dataclasses
import os

from lib import config
from lib.config import setting
from lib.data import load_split
from lib.errors import UserError, run
from lib.io import named_paths, save_json
from lib.precision import cpu_has_vnni
from lib.quantize import METHODS, calibration_sample, quantize, seven_bit_weights


@dataclasses.dataclass(frozen=True)
class Quantize:
    calibration_images: int = setting(config.positive_int)
    calibration: str = setting(config.choice(*METHODS))
    reduce_range: object = setting(config.auto_or_boolean)


PARAMS = {config.TOP: config.part(config.Run, "seed"), "quantize": Quantize}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--onnx", action="append", required=True, metavar="NAME=PATH", help="a variant's float export")
    parser.add_argument("--out", action="append", required=True, metavar="NAME=PATH", help="its int8 model")
    parser.add_argument("--report", required=True)
    args = parser.parse_args()
    exports, outs = named_paths(args.onnx, "--onnx"), named_paths(args.out, "--out")
    if list(exports) != list(outs):
        raise UserError(f"--out must name the variants of --onnx in their order: {list(exports)}, got {list(outs)}")
    params = config.load(PARAMS)
    p = params.quantize
    missing = [path for path in exports.values() if not os.path.isfile(path)]
    if missing:
        raise UserError(f"ONNX export {missing[0]} does not exist; run the stage that writes it (dvc repro "
                        "export_onnx)")
    train = load_split(f"{args.data}/train.pt")
    if p.calibration_images > len(train["labels"]):
        raise UserError(f"params.yaml: quantize.calibration_images = {p.calibration_images} is more than the "
                        f"{len(train['labels']):,} training images; use at most {len(train['labels']):,}")
    images = calibration_sample(train, p.calibration_images, params.seed)
    reduce_range = seven_bit_weights(p.reduce_range)

    report = {"calibration": p.calibration, "calibration_images": p.calibration_images,
              "reduce_range": reduce_range, "vnni": cpu_has_vnni(), "variants": {}}
    for name, path in exports.items():
        quantize(path, outs[name], images, p.calibration, reduce_range)
        report["variants"][name] = {"int8": outs[name], "size_bytes": os.path.getsize(outs[name]),
                                    "float_size_bytes": os.path.getsize(path)}
        print(f"{name:22s} -> {outs[name]} ({os.path.getsize(path) / 1e6:.1f} -> "
              f"{os.path.getsize(outs[name]) / 1e6:.1f} MB)")
    save_json(report, args.report)


if __name__ == "__main__":
    run(main)
