"""export_onnx: every model variant exported to ONNX beside its checkpoint (<checkpoint>.onnx, for
onnxruntime and other inference runtimes), each checked against its PyTorch model on test images
(logits within lib.onnx_export.TOLERANCE) -> reports/onnx_export.json (each export's largest
difference, relative to the largest logit)."""
import argparse

from lib import models
from lib.data import load_split, normalize
from lib.errors import UserError, run
from lib.io import save_json
from lib.onnx_export import check, export, export_path, session

CHECK_IMAGES = 64  # test images each export is checked on


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", action="append", required=True, metavar="NAME=CHECKPOINT",
                        help="a variant and its checkpoint; its export is written beside it, .pth -> .onnx")
    parser.add_argument("--report", required=True)
    args = parser.parse_args()
    if not all("=" in item and item.endswith(".pth") for item in args.model):
        raise UserError(f"--model takes NAME=CHECKPOINT.pth, got {args.model}")
    paths = dict(item.split("=", 1) for item in args.model)
    loaded = {name: models.load_checkpoint(path)[0] for name, path in paths.items()}  # all checked first
    images = normalize(load_split(f"{args.data}/test.pt")["images"][:CHECK_IMAGES])

    report = {}
    for name, model in loaded.items():
        path = export_path(paths[name])
        export(model, path, images.shape[-1])
        report[name] = {"onnx": path, "max_relative_difference": check(model, session(path), name, images)}
        print(f"{name:22s} -> {path} (logits within {report[name]['max_relative_difference']:.1e} of PyTorch's)")
    save_json(report, args.report)


if __name__ == "__main__":
    run(main)
