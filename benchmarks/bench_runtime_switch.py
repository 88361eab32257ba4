"""What an onnxruntime call costs right after a PyTorch call. A dense VGG-11-BN (random weights) at
batch 1, exported to ONNX and run in onnxruntime as the timing stage runs it (lib.onnx_export.session:
torch's thread count, no spinning); each round times one onnxruntime call right after another
onnxruntime call and one right after a PyTorch forward of the same model, so the two conditions
interleave. After a parallel region PyTorch's OpenMP threads spin-wait on the cores for a while
(libgomp's default; OMP_WAIT_POLICY=PASSIVE makes them sleep), which onnxruntime's threads then need.
Prints each condition's median latency [IQR] and their ratio; run it with and without
OMP_WAIT_POLICY=PASSIVE to see the spin-wait's share.

    python -m benchmarks.bench_runtime_switch --rounds 300
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
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = models.build(models.architecture()).eval()
    with tempfile.TemporaryDirectory() as folder:
        export(model, os.path.join(folder, "vgg11.onnx"))
        onnx = runner(session(os.path.join(folder, "vgg11.onnx")))
    one = torch.randn(1, 3, 32, 32)
    times = {"after onnxruntime": [], "after PyTorch": []}
    with torch.inference_mode():
        for r in range(args.warmup + args.rounds):
            for condition, before in (("after onnxruntime", onnx), ("after PyTorch", model)):
                before(one)
                start = time.perf_counter()
                onnx(one)
                if r >= args.warmup:
                    times[condition].append(1000 * (time.perf_counter() - start))
    print(f"onnxruntime batch-1 latency, dense VGG-11-BN, {torch.get_num_threads()} threads, {args.rounds} rounds, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset (active spin-wait)')}")
    for condition, values in times.items():
        q1, median, q3 = statistics.quantiles(values, n=4)
        print(f"  {condition:18s} median {median:.2f} ms [IQR {q3 - q1:.2f}]")
    print(f"  after PyTorch / after onnxruntime: "
          f"{statistics.median(times['after PyTorch']) / statistics.median(times['after onnxruntime']):.2f}x")


if __name__ == "__main__":
    main()
