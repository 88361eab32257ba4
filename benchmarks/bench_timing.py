"""The timing stage's noise floor: how far apart variants of one architecture time, and what moves it.

Variants of one architecture run the same operations, so their latencies differ only by the measurement:
here two groups as the timing stage sees them, the original VGG-11-BN beside a second initialisation and
an unstructured variant (90 % of conv weights zeroed: the same dense compute), and two structured models
with the same filter counts (the variant before and after its recovery). Each runtime the stage times
(PyTorch with batch norm folded, onnxruntime on the float export, onnxruntime on the int8 model) gets its
own interleaved round robin (lib.timing.time_interleaved), `--repeats` times, once in the stage's variant
order and once reversed (does the order of sessions matter?); printed per round robin: each variant's
batch-1 latency and the noise floor (lib.timing.noise_floor: the largest relative spread within a group).
Weights are random and the int8 ranges calibrated on random images: latency depends on the shapes only.

    python -m benchmarks.bench_timing                  # the default recipe's filter counts (CHOSEN)
    python -m benchmarks.bench_timing --filters 32 112 144 144 248 304 352 248 --repeats 5
"""
import argparse
import os
import statistics
import tempfile
from types import SimpleNamespace

import torch
from torch.nn.utils import prune

from lib import models
from lib.onnx_export import export, runner, session
from lib.quantize import quantize
from lib.timing import deployed, noise_floor, time_interleaved

# structured_prune's filter counts for a CPU-scale CIFAR-10 baseline under the default recipe (sensitivity,
# target {macs: 0.65, params: 0.7}, round_to 8).
CHOSEN = [32, 96, 176, 152, 248, 288, 304, 136]
GROUPS = [["original", "original_again", "unstructured"], ["structured", "structured_again"]]


def variants(filters):
    """{name: model (eval, batch norm in place)}: the two same-architecture groups of GROUPS."""
    torch.manual_seed(0)
    full, small = models.architecture(), models.architecture(filters=filters)
    out = {"original": models.build(full), "original_again": models.build(full), "unstructured": models.build(full),
           "structured": models.build(small), "structured_again": models.build(small)}
    for name in models.layer_names(out["unstructured"]):
        prune.remove(prune.l1_unstructured(models.layer(out["unstructured"], name), "weight", 0.9), "weight")
    return {name: model.eval() for name, model in out.items()}


def runtimes(models_, folder):
    """{runtime: {name: forward}}: PyTorch (batch norm folded), onnxruntime float and int8 sessions."""
    calibration = torch.randn(128, 3, 32, 32)
    calls = {"pytorch": {n: deployed(m, True) for n, m in models_.items()}, "onnx": {}, "int8": {}}
    for name, model in models_.items():
        float_path, int8_path = os.path.join(folder, f"{name}.onnx"), os.path.join(folder, f"{name}.int8.onnx")
        export(model, float_path)
        quantize(float_path, int8_path, calibration, "minmax")
        calls["onnx"][name], calls["int8"][name] = runner(session(float_path)), runner(session(int8_path))
    return calls


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filters", type=int, nargs=8, default=CHOSEN)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-runs", type=int, default=300)
    args = parser.parse_args()
    cfg = SimpleNamespace(latency_runs=args.latency_runs, warmup=20, throughput_batch=64, throughput_runs=1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.latency_runs} rounds at batch 1 per "
          f"round robin; groups {GROUPS}; structured filters {args.filters}")
    floors = {}
    with tempfile.TemporaryDirectory() as folder:
        calls = runtimes(variants(args.filters), folder)
        for repeat in range(args.repeats):
            for order in ("stage order", "reversed"):
                for runtime, forward in calls.items():
                    names = list(forward) if order == "stage order" else list(reversed(forward))
                    t = time_interleaved({n: forward[n] for n in names}, names[0], cfg)
                    latencies = {n: t[n]["latency_ms"] for n in names}
                    floor = noise_floor(latencies, GROUPS)
                    floors.setdefault((runtime, order), []).append(floor)
                    print(f"repeat {repeat + 1}, {order:11s} {runtime:7s} floor {100 * floor:5.1f} %: " + ", ".join(
                        f"{n} {latencies[n]:.3f} ms" for n in forward))
    print("noise floor, median over repeats [min, max]:")
    for (runtime, order), values in floors.items():
        print(f"  {runtime:7s} {order:11s} {100 * statistics.median(values):5.1f} % "
              f"[{100 * min(values):.1f}, {100 * max(values):.1f}]")


if __name__ == "__main__":
    main()
