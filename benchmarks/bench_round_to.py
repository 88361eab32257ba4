"""Latency effect of structured_prune.round_to: the sensitivity allocation of one MAC target with
filter counts exact (round_to 1) and at multiples of 8, beside the unpruned VGG-11, timed at batch 1
on the CPU in one process, interleaved round-robin after a warm-up (lib.timing, as the timing stage).
Prints each model's median latency with its interquartile range over the rounds, and its speedup over
the baseline (ratio of medians) with the IQR of the per-round ratios.
Weights are random: latency depends only on the filter counts.

    python -m benchmarks.bench_round_to --results reports/structured_sensitivity_results.json --target 0.65
    python -m benchmarks.bench_round_to   # the reference run's first seed's sweep (results/cpu-12ep)
"""
import argparse
from types import SimpleNamespace

import torch

from lib import cost, models
from lib.pruning import allocation, structured_allocation
from lib.pruning.sweep_results import read_results
from lib.pruning.structured import kept_count
from lib.timing import time_interleaved


def filters_for(results, target, round_to):
    """VGG-11's filter counts after the sensitivity allocation of a MAC target, as structured_prune makes them."""
    arch = models.architecture()
    convs = [f"conv{i + 1}" for i in range(len(arch["filters"]))]
    ratios = structured_allocation.allocate("sensitivity", target, "macs", arch, allocation.curves(results, convs),
                                            round_to)
    return [kept_count(n, ratios.get(c, 0.0), round_to) for c, n in zip(convs, arch["filters"])]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="results/cpu-12ep/seed0/reports/structured_sensitivity_results.json",
                        help="a structured sensitivity sweep (default: the reference run's record)")
    parser.add_argument("--target", type=float, default=0.65, help="fraction of the MACs removed")
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    results = read_results(args.results)
    variants = {"baseline": models.VGG11_FILTERS}
    for round_to in (1, 8):
        variants[f"round_to {round_to}"] = filters_for(results, args.target, round_to)
    torch.manual_seed(0)
    nets = {name: models.build(models.architecture(filters=f)) for name, f in variants.items()}
    timing = time_interleaved(nets, "baseline", SimpleNamespace(latency_runs=args.rounds, warmup=20,
                                                                throughput_batch=256, throughput_runs=5))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.rounds} rounds, batch 1, "
          f"MAC target {args.target}")
    for name, t in timing.items():
        arch = models.architecture(filters=variants[name])
        print(f"{name:11s} filters {variants[name]}  MACs {cost.total(arch) / 1e6:6.1f} M  "
              f"latency {t['latency_ms']:.3f} ms (IQR {t['latency_iqr_ms']:.3f})  "
              f"speedup {t['latency_speedup']:.2f}x (IQR {t['latency_speedup_iqr']:.2f})")

if __name__ == "__main__":
    main()
