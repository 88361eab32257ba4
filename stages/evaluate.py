"""evaluate: every model variant measured from its checkpoint alone, under the same keys (lib.measure:
accuracy, parameters, nonzero parameters, size on disk, MACs; against the first variant, the baseline,
compression and accuracy drops), with the record of the stage that made it (what it did and found:
epochs, filter counts, one-shot drops) -> reports/eval/<evaluation>.json. A variant with a sparse export
also gets that file's size, its sparsity per layer and overall, and its effective MACs (on nonzero
weights). Each variant's ONNX exports, float and int8 (stages export_onnx and quantize), are scored in
onnxruntime the same way: int8_drop is the int8 model's test accuracy below the float export's. Apart from
the stages that train, so a change to measurement re-runs no training."""
import os

from lib import cost, models, stage
from lib.errors import UserError, run
from lib.io import load_json, save_json
from lib.measure import deployed_accuracy, measure, relative_to
from lib.onnx_export import session
from lib.pruning.unstructured import sparsity

PARAMS = stage.COMMON


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model=", "--sparse=", "--record=", "--onnx=", "--int8=", "--out="], PARAMS,
        splits=("val", "test"))
    names = list(args.model)
    if not list(args.out) == list(args.onnx) == list(args.int8) == names or \
            not set(args.sparse) | set(args.record) <= set(names):
        raise UserError(f"--onnx, --int8 and --out must name the variants of --model in their order ({names}), and "
                        f"--sparse and --record some of them; got --onnx {list(args.onnx)}, --int8 {list(args.int8)}, "
                        f"--out {list(args.out)}, --sparse {list(args.sparse)}, --record {list(args.record)}")
    loaded = {name: models.load_checkpoint(path, device) for name, path in args.model.items()}  # all checked first
    records = {name: load_json(path, "stage record") for name, path in args.record.items()}
    for path in [*args.onnx.values(), *args.int8.values()]:
        session(path)  # every export loads before any work

    baseline = None
    for name, (model, ckpt) in loaded.items():
        metrics = measure(model, args.model[name], data, params.measure.batch_size)
        if baseline is None:
            baseline = metrics
        else:
            metrics.update(relative_to(metrics, baseline))
        if name in args.sparse:
            metrics["sparse_size_bytes"] = os.path.getsize(args.sparse[name])
        metrics.update(records.get(name, {}))
        if name in args.sparse:
            achieved = sparsity(model)
            effective = cost.effective_macs(ckpt["architecture"], {n: 1 - s for n, s in achieved["layers"].items()})
            metrics.update(conv_sparsity=achieved["conv_overall"], effective_macs=effective,
                           effective_macs_reduction=1 - effective / baseline["macs"], layer_sparsity=achieved["layers"])
        onnx, int8 = (deployed_accuracy(path[name], data, params.measure.batch_size) for path in (args.onnx, args.int8))
        metrics.update({f"onnx_{k}": v for k, v in onnx.items()}, **{f"int8_{k}": v for k, v in int8.items()},
                       int8_drop=onnx["test_accuracy"] - int8["test_accuracy"],
                       int8_size_bytes=os.path.getsize(args.int8[name]))
        save_json(metrics, args.out[name])
        print(f"{name:22s} validation {metrics['val_accuracy']:6.2f}%, test {metrics['test_accuracy']:6.2f}% "
              f"(int8 {metrics['int8_test_accuracy']:6.2f}%), {metrics['nonzero_params']:,} nonzero parameters, "
              f"{metrics['macs'] / 1e6:.1f}M MACs")


if __name__ == "__main__":
    run(main)
