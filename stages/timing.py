"""timing: CPU latency and throughput of every model variant, apart from training, in PyTorch and in
onnxruntime (its ONNX export). All are timed in this one process, each runtime's variants interleaved
round-robin after a warm-up (PyTorch's, then onnxruntime's), each speedup against the baseline in the
same runtime timed alongside it, with the spread (IQR) beside every median -> reports/timing.json (per
variant the PyTorch keys, and the same keys prefixed onnx_). With timing.fold_batchnorm, every PyTorch
model (the baseline too) is timed in its deployment form, each batch norm folded into its conv
(onnxruntime folds them itself).
A change to the `timing` params re-runs only this stage and what reads it."""
import argparse
import dataclasses

from lib import config, models
from lib.config import setting
from lib.errors import UserError, run
from lib.io import save_json
from lib.onnx_export import runner, session
from lib.timing import deployed, time_interleaved

@dataclasses.dataclass(frozen=True)
class Timing:
    latency_runs: int = setting(config.int_in(4, 100_000, " (quartiles need 4 rounds)"))
    warmup: int = setting(config.non_negative_int)
    throughput_batch: int = setting(config.positive_int)
    throughput_runs: int = setting(config.positive_int)
    fold_batchnorm: bool = setting(config.boolean)


PARAMS = {"timing": Timing}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", required=True, metavar="NAME=PATH",
                        help="a variant and its checkpoint; the first is the baseline of the speedups")
    parser.add_argument("--onnx", action="append", required=True, metavar="NAME=PATH",
                        help="the ONNX export of a variant (stage export_onnx), the same names in the same order")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if not all("=" in item for item in args.model + args.onnx):
        raise UserError(f"--model and --onnx take NAME=PATH, got {args.model + args.onnx}")
    paths, exports = (dict(item.split("=", 1) for item in items) for items in (args.model, args.onnx))
    if list(paths) != list(exports):
        raise UserError(f"--onnx must name the variants of --model in their order: {list(paths)}, got {list(exports)}")
    params = config.load(PARAMS)
    loaded = {name: deployed(models.load_checkpoint(path)[0], params.timing.fold_batchnorm)
              for name, path in paths.items()}  # all checked first
    # One runtime after the other, never alternating call by call: an onnxruntime call right after a PyTorch
    # call is slower than one after another onnxruntime call (benchmarks/bench_runtime_switch.py). The
    # warm-up absorbs the one switch.
    first = next(iter(paths))
    pytorch = time_interleaved(loaded, first, params.timing)
    onnx = time_interleaved({name: runner(session(exports[name])) for name in paths}, first, params.timing)
    timing = {name: {**pytorch[name], **{f"onnx_{k}": v for k, v in onnx[name].items()}} for name in paths}
    save_json(timing, args.out)
    for name, t in timing.items():
        print(f"{name:22s} PyTorch {t['latency_ms']:7.3f} ms, speedup {t['latency_speedup']:.2f}x (IQR "
              f"{t['latency_speedup_iqr']:.2f}); onnxruntime {t['onnx_latency_ms']:7.3f} ms, speedup "
              f"{t['onnx_latency_speedup']:.2f}x (IQR {t['onnx_latency_speedup_iqr']:.2f})")


if __name__ == "__main__":
    run(main)
