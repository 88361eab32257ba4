"""Is the timing stage's speedup stable? The pipeline's variants as the timing stage sees them:
the baseline VGG-11-BN, an unstructured variant (90 % of conv weights zeroed: the same dense compute,
so its speedup should be 1.0x), and two structured variants with the same filter counts (the model
before and after its recovery fine-tune: their speedups should agree). lib.timing.time_interleaved
times them all, in one process, interleaved round-robin, `--repeats` times over; printed per repeat:
each speedup with the IQR of its per-round ratios, and the two checks (the
structured pair within 10 % of each other, the unstructured variant within 10 % of 1.0x).
Weights are random: latency depends on the shapes only. With --fold-bn every model is timed in its
deployment form, each batch norm folded into its conv (lib.timing.deployed, as the timing stage does
with timing.fold_batchnorm).

    python -m benchmarks.bench_timing                  # the default recipe's filter counts (CHOSEN)
    python -m benchmarks.bench_timing --filters 32 112 144 144 248 304 352 248 --fold-bn
"""
import argparse

import torch
from torch.nn.utils import prune

from lib import models
from lib.timing import deployed, time_interleaved

# structured_prune's filter counts for a CPU-scale CIFAR-10 baseline under the default recipe (sensitivity,
# target {macs: 0.65, params: 0.7}, round_to 8).
CHOSEN = [32, 96, 176, 152, 248, 288, 304, 136]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filters", type=int, nargs=8, default=CHOSEN)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-runs", type=int, default=300)
    parser.add_argument("--fold-bn", action="store_true", help="fold each batch norm into its conv first")
    args = parser.parse_args()
    torch.manual_seed(0)
    baseline = models.build(models.architecture())
    unstructured = models.build(models.architecture())
    for name in models.layer_names(unstructured):
        prune.remove(prune.l1_unstructured(models.layer(unstructured, name), "weight", 0.9), "weight")
    small = models.architecture(filters=args.filters)
    variants = {"original": baseline, "unstructured": unstructured, "structured": models.build(small),
                "structured_finetuned": models.build(small)}
    variants = {name: deployed(model, args.fold_bn) for name, model in variants.items()}
    cfg = {"latency_runs": args.latency_runs, "warmup": 20, "throughput_batch": 256, "throughput_runs": 5}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.latency_runs} rounds, batch 1"
          f"{', batch norm folded' if args.fold_bn else ''}; structured filters {args.filters}")
    for repeat in range(args.repeats):
        t = time_interleaved(variants, "original", cfg)
        pair = t["structured"]["latency_speedup"] / t["structured_finetuned"]["latency_speedup"]
        print(f"repeat {repeat + 1}: original {t['original']['latency_ms']:.3f} ms; " + ", ".join(
            f"{n} {v['latency_speedup']:.3f}x (IQR {v['latency_speedup_iqr']:.3f})" for n, v in t.items()
            if n != "original"))
        print(f"          structured pair ratio {pair:.3f} (|1 - ratio| {abs(1 - pair):.1%}, target <= 10 %); "
              f"unstructured {t['unstructured']['latency_speedup']:.3f}x "
              f"(|1 - speedup| {abs(1 - t['unstructured']['latency_speedup']):.1%}, target <= 10 %); "
              f"throughput speedups " + ", ".join(f"{n} {v['throughput_speedup']:.2f}x" for n, v in t.items()))


if __name__ == "__main__":
    main()
