"""timing: CPU latency and throughput of every model variant, apart from training, in PyTorch, in
onnxruntime (its ONNX export) and in onnxruntime in int8 (stage quantize). All are timed in this one
process, each runtime's variants interleaved round-robin after a warm-up (PyTorch's, then onnxruntime's
float, then int8), each speedup against the baseline in the same runtime timed alongside it, with the
spread (IQR) beside every median; int8 against the original float export and against the variant's own;
and per runtime the noise floor, the latency spread of variants that share an architecture ->
reports/timing.json (per variant the PyTorch keys, the same keys prefixed onnx_, the int8_ keys; and
noise_floor). With timing.fold_batchnorm, every PyTorch model (the baseline too) is timed in its
deployment form, each batch norm folded into its conv (onnxruntime folds them itself).
A change to the `timing` params re-runs only this stage and what reads it."""
import argparse
import dataclasses

from lib import config, models
from lib.config import setting
from lib.errors import UserError, run
from lib.io import named_paths, save_json
from lib.onnx_export import runner, session
from lib.timing import deployed, noise_floor, time_interleaved

@dataclasses.dataclass(frozen=True)
class Timing:
    latency_runs: int = setting(config.int_in(4, 100_000, " (quartiles need 4 rounds)"))
    warmup: int = setting(config.non_negative_int)
    throughput_batch: int = setting(config.positive_int)
    throughput_runs: int = setting(config.positive_int)
    fold_batchnorm: bool = setting(config.boolean)


PARAMS = {"timing": Timing}


def int8_keys(floats, int8, name, first):
    """A variant's int8 timing: its latency (median, IQR) and throughput, its speedups against the original
    float model in onnxruntime (the whole deployment gain: int8_latency_speedup, int8_throughput_speedup) and
    against itself in float (what int8 adds: int8_gain, int8_throughput_gain); ratios of medians measured in
    the two round robins."""
    mine = int8[name]
    return {"int8_latency_ms": mine["latency_ms"], "int8_latency_iqr_ms": mine["latency_iqr_ms"],
            "int8_throughput_ips": mine["throughput_ips"],
            "int8_latency_speedup": floats[first]["latency_ms"] / mine["latency_ms"],
            "int8_throughput_speedup": mine["throughput_ips"] / floats[first]["throughput_ips"],
            "int8_gain": floats[name]["latency_ms"] / mine["latency_ms"],
            "int8_throughput_gain": mine["throughput_ips"] / floats[name]["throughput_ips"]}


def architectures(checkpoints):
    """Groups of variant names sharing an architecture (the same operations to compute)."""
    groups = {}
    for name, ckpt in checkpoints.items():
        arch = ckpt["architecture"]
        groups.setdefault((arch["arch"], arch["head"], tuple(arch["filters"])), []).append(name)
    return list(groups.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", required=True, metavar="NAME=PATH",
                        help="a variant and its checkpoint; the first is the baseline of the speedups")
    parser.add_argument("--onnx", action="append", required=True, metavar="NAME=PATH",
                        help="the ONNX export of a variant (stage export_onnx), the same names in the same order")
    parser.add_argument("--int8", action="append", required=True, metavar="NAME=PATH",
                        help="its int8 model (stage quantize), the same names in the same order")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    paths, exports, int8 = (named_paths(items, flag) for items, flag in
                            ((args.model, "--model"), (args.onnx, "--onnx"), (args.int8, "--int8")))
    if not list(paths) == list(exports) == list(int8):
        raise UserError(f"--onnx and --int8 must name the variants of --model in their order: {list(paths)}, got "
                        f"{list(exports)} and {list(int8)}")
    params = config.load(PARAMS)
    checkpoints = {name: models.load_checkpoint(path) for name, path in paths.items()}  # all checked first
    loaded = {name: deployed(model, params.timing.fold_batchnorm) for name, (model, _) in checkpoints.items()}
    sessions = {runtime: {name: runner(session(path)) for name, path in files.items()}
                for runtime, files in (("onnx", exports), ("int8", int8))}
    # Each runtime and precision in its own round robin, never alternating call by call: an onnxruntime call
    # right after a PyTorch call is slower than one after another onnxruntime call
    # (benchmarks/bench_runtime_switch.py). The warm-up absorbs the one switch.
    first = next(iter(paths))
    times = {"pytorch": time_interleaved(loaded, first, params.timing),
             **{runtime: time_interleaved(calls, first, params.timing) for runtime, calls in sessions.items()}}
    timing = {name: {**times["pytorch"][name], **{f"onnx_{k}": v for k, v in times["onnx"][name].items()},
                     **int8_keys(times["onnx"], times["int8"], name, first)} for name in paths}
    groups = architectures({name: ckpt for name, (_, ckpt) in checkpoints.items()})
    timing["noise_floor"] = {runtime: noise_floor({n: t[n]["latency_ms"] for n in paths}, groups)
                             for runtime, t in times.items()}
    save_json(timing, args.out)
    for name in paths:
        t = timing[name]
        print(f"{name:22s} batch 1: PyTorch {t['latency_ms']:7.3f} ms ({t['latency_speedup']:.2f}x), onnxruntime "
              f"{t['onnx_latency_ms']:7.3f} ms ({t['onnx_latency_speedup']:.2f}x), int8 {t['int8_latency_ms']:7.3f} ms "
              f"({t['int8_latency_speedup']:.2f}x the original in float, {t['int8_gain']:.2f}x itself)")
    print("noise floor (same-architecture variants' spread): " + ", ".join(
        f"{runtime} {100 * floor:.1f} %" for runtime, floor in timing["noise_floor"].items()))


if __name__ == "__main__":
    run(main)
