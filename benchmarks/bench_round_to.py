"""Latency effect of structured_prune.round_to: the sensitivity allocation of one MAC target with
filter counts exact (round_to 1) and at multiples of 8, beside the unpruned VGG-11, timed at batch 1
on the CPU in one process, interleaved round-robin after a warm-up. Prints each model's median latency
with its interquartile range over the rounds, and its speedup over the baseline (ratio of medians).
Weights are random: latency depends only on the filter counts.

    python -m benchmarks.bench_round_to --results reports/structured_sensitivity_results.json --target 0.65
"""
import argparse
import statistics

import torch
from torch.utils import benchmark

from lib import allocation, cost, models
from lib.pruning import kept_count
from lib.sensitivity import read_results


def filters_for(results, target, round_to, kind="macs"):
    arch = models.architecture()
    convs = [f"conv{i + 1}" for i in range(len(arch["filters"]))]

    def shrunk(levels):
        return [kept_count(n, levels.get(c, 0.0), round_to) for c, n in zip(convs, arch["filters"])]

    def resource(levels):
        return 1 - cost.total({**arch, "filters": shrunk(levels)}, kind) / cost.total(arch, kind)

    return shrunk(allocation.sensitivity(allocation.curves(results, convs), resource, target))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="reports/structured_sensitivity_results.json")
    parser.add_argument("--target", type=float, default=0.65, help="fraction of the MACs removed")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20, help="forward passes per model per round")
    args = parser.parse_args()
    results = read_results(args.results)
    variants = {"baseline": models.VGG11_FILTERS}
    for round_to in (1, 8):
        variants[f"round_to {round_to}"] = filters_for(results, args.target, round_to)
    torch.manual_seed(0)
    x = torch.randn(1, 3, 32, 32)
    timers = {name: benchmark.Timer("model(x)", globals={"model": models.build(models.architecture(filters=f)).eval(),
                                                        "x": x}, num_threads=torch.get_num_threads())
              for name, f in variants.items()}
    with torch.inference_mode():
        for timer in timers.values():  # warm-up
            timer.timeit(args.runs)
        rounds = {name: [] for name in timers}
        for _ in range(args.rounds):
            for name, timer in timers.items():
                rounds[name].append(timer.timeit(args.runs).median * 1000)
    base = statistics.median(rounds["baseline"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.rounds} rounds x {args.runs} runs, "
          f"batch 1, MAC target {args.target}")
    for name, times in rounds.items():
        q1, _, q3 = statistics.quantiles(times, n=4)
        arch = models.architecture(filters=variants[name])
        print(f"{name:11s} filters {variants[name]}  MACs {cost.total(arch) / 1e6:6.1f} M  "
              f"latency {statistics.median(times):.3f} ms (IQR {q1:.3f}-{q3:.3f})  "
              f"speedup {base / statistics.median(times):.2f}x")


if __name__ == "__main__":
    main()
