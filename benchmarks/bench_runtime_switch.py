"""What alternating PyTorch and onnxruntime call by call costs onnxruntime. A dense VGG-11-BN (random
weights) at batch 1, exported to ONNX and run in onnxruntime as the timing stage runs it
(lib.onnx_export.session: torch's thread count, no spinning), timed in blocks of rounds of two kinds,
the kinds alternating block by block against drift: onnxruntime calls one after another (how the
timing stage times a runtime), and onnxruntime calls each right after a PyTorch forward of the same
model (the runtimes alternated call by call). Two likely causes: after a parallel region PyTorch's
OpenMP threads spin-wait on the cores for a while (libgomp's default; OMP_WAIT_POLICY=PASSIVE makes
them sleep), which onnxruntime's threads then need, and the two runtimes' copies of the weights
displace each other in the caches. Prints each kind's median latency [IQR] and their ratio; run it
with and without OMP_WAIT_POLICY=PASSIVE to see the spin-wait's share.

    python -m benchmarks.bench_runtime_switch --rounds 300 --block 25
"""
import argparse
import os
import statistics
import tempfile
import time

import torch

from lib import models
from lib.onnx_export import export, runner, session


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=300, help="timed calls of each kind")
    parser.add_argument("--block", type=int, default=25, help="rounds per block")
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = models.build(models.architecture()).eval()
    with tempfile.TemporaryDirectory() as folder:
        export(model, os.path.join(folder, "vgg11.onnx"))
        onnx = runner(session(os.path.join(folder, "vgg11.onnx")))
    one = torch.randn(1, 3, 32, 32)
    kinds = {"onnxruntime only": None, "after PyTorch": model}
    times = {kind: [] for kind in kinds}
    with torch.inference_mode():
        for _ in range(args.warmup):
            model(one), onnx(one)
        while len(times["after PyTorch"]) < args.rounds:
            for kind, before in kinds.items():
                for _ in range(args.block):
                    if before is not None:
                        before(one)
                    start = time.perf_counter()
                    onnx(one)
                    times[kind].append(1000 * (time.perf_counter() - start))
    print(f"onnxruntime batch-1 latency, dense VGG-11-BN, {torch.get_num_threads()} threads, {args.rounds} rounds, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset (active spin-wait)')}")
    for condition, values in times.items():
        q1, median, q3 = statistics.quantiles(values, n=4)
        print(f"  {condition:18s} median {median:.2f} ms [IQR {q3 - q1:.2f}]")
    print(f"  after PyTorch / onnxruntime only: "
          f"{statistics.median(times['after PyTorch']) / statistics.median(times['onnxruntime only']):.2f}x")


if __name__ == "__main__":
    main()
