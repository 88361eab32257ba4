"""CPU timing of model variants, apart from training: all variants in one process, interleaved
round-robin after a warm-up, each speedup against the baseline timed alongside it, with the spread
(interquartile range) beside every median.

The clock is time.perf_counter around each call. torch.utils.benchmark.Timer is not used: it measures
a statement in blocks (blocked_autorange) and each of its timeit() calls first runs at least two
untimed warm-up executions, which would undo the interleaving call by call (and it pins torch to one
thread unless told otherwise)."""
import statistics
import time

import torch

KEYS = ("latency_ms", "latency_iqr_ms", "throughput_ips", "latency_speedup", "latency_speedup_iqr",
        "throughput_speedup")  # what time_interleaved() reports per variant


def deployed(model, fold_batchnorm):
    """`model` on the CPU in eval mode as it would be deployed for inference: with fold_batchnorm, each
    batch norm folded into the conv before it (torch.fx's fuse: the same outputs up to rounding, one
    layer fewer to run per conv)."""
    from torch.fx.experimental.optimization import fuse  # torch.fx: only where a model is deployed
    model = model.cpu().eval()
    return fuse(model) if fold_batchnorm else model


def _round_robin(calls, runs, warmup):
    """{name: [seconds per call]}: after `warmup` untimed calls each, `runs` rounds in which every call
    runs once, the starting call rotating each round, so drift in the machine's speed (other load,
    clock changes) falls on every variant alike."""
    names = list(calls)
    for name in names:
        for _ in range(warmup):
            calls[name]()
    times = {name: [] for name in names}
    for r in range(runs):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - start)
    return times


def _iqr(values):
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q3 - q1


def time_interleaved(models, baseline, cfg, image_size=32):
    """CPU timing of every model in `models` ({name: forward(images)}: a model on the CPU in eval mode,
    or any callable such as an onnxruntime session's), interleaved round-robin in this process: latency
    (ms per image at batch 1: median and interquartile range over cfg.latency_runs rounds),
    throughput (images/s at cfg.throughput_batch, median over cfg.throughput_runs rounds), and
    the speedups against a baseline: the ratio of medians, with the IQR of the per-round ratios.
    `baseline` names the model every speedup is against."""
    cpu = {name: m.cpu().eval() if isinstance(m, torch.nn.Module) else m for name, m in models.items()}
    one = torch.randn(1, 3, image_size, image_size)
    many = torch.randn(cfg.throughput_batch, 3, image_size, image_size)
    with torch.inference_mode():
        single = _round_robin({n: (lambda m=m: m(one)) for n, m in cpu.items()}, cfg.latency_runs, cfg.warmup)
        batch = _round_robin({n: (lambda m=m: m(many)) for n, m in cpu.items()}, cfg.throughput_runs, 1)
    out, base, base_batch = {}, statistics.median(single[baseline]), statistics.median(batch[baseline])
    for name in cpu:
        latency, per_round = statistics.median(single[name]), [b / t for b, t in zip(single[baseline], single[name])]
        out[name] = {"latency_ms": 1000 * latency, "latency_iqr_ms": 1000 * _iqr(single[name]),
                     "throughput_ips": cfg.throughput_batch / statistics.median(batch[name]),
                     "latency_speedup": base / latency, "latency_speedup_iqr": _iqr(per_round),
                     "throughput_speedup": base_batch / statistics.median(batch[name])}
    return out


def noise_floor(latencies, groups):
    """The timing's noise floor: variants in one of `groups` (lists of names of one architecture) compute the
    same operations, so the relative spread of their `latencies` ({name: ms}), max / min - 1, is the
    measurement's; the largest over the groups (0 where no group has two variants)."""
    spreads = [max(latencies[v] for v in g) / min(latencies[v] for v in g) - 1 for g in groups if len(g) > 1]
    return max(spreads, default=0.0)


def resolved(speedup, floor):
    """Whether a speedup (a ratio of latencies) lies outside the noise floor: the floor is a ratio too (max /
    min - 1), so a slowdown is judged by its inverse, max(s, 1/s) - 1 > floor."""
    return max(speedup, 1 / speedup) - 1 > floor
