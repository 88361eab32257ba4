"""What every model variant reports, under the same JSON keys, so `dvc metrics show` is a
comparison table: accuracy, parameters, nonzero parameters, size on disk, MACs, CPU latency and
throughput."""
import copy
import os
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from lib.errors import UserError
from lib.io import load_json
from lib.train import evaluate

KEYS = ("val_accuracy", "test_accuracy", "test_loss", "params", "nonzero_params", "size_bytes", "macs",
        "latency_ms", "throughput_ips")  # what measure() reports for every variant


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def count_nonzero(model):
    """Nonzero learnable values (for a model still carrying pruning masks, count the masked weights)."""
    return sum(int((p != 0).sum()) for name, p in model.state_dict().items()
               if not name.endswith(("running_mean", "running_var", "num_batches_tracked", "_orig")))


def macs(model, image_size=32):
    """Multiply-accumulates of one forward pass on one image (torch.utils.flop_counter counts
    2 FLOPs per MAC for convolutions and matrix products)."""
    param = next(model.parameters())
    x = torch.zeros(1, 3, image_size, image_size, device=param.device, dtype=param.dtype)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model.eval()(x)
    return counter.get_total_flops() // 2


def _median_seconds(fn, runs, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timing(model, cfg, image_size=32):
    """CPU latency (ms/image at batch 1, median) and throughput (images/s at a large batch)."""
    cpu_model = copy.deepcopy(model).cpu().eval()
    one = torch.randn(1, 3, image_size, image_size)
    many = torch.randn(cfg["throughput_batch"], 3, image_size, image_size)
    with torch.inference_mode():
        latency = _median_seconds(lambda: cpu_model(one), cfg["latency_runs"])
        batch = _median_seconds(lambda: cpu_model(many), cfg["throughput_runs"], warmup=1)
    return {"latency_ms": 1000 * latency, "throughput_ips": cfg["throughput_batch"] / batch}


def measure(model, checkpoint_path, val, test, device, cfg):
    """The common metrics of one saved model variant."""
    val_metrics = evaluate(model, val, cfg["batch_size"], device)
    test_metrics = evaluate(model, test, cfg["batch_size"], device)
    return {
        "val_accuracy": val_metrics["accuracy"],
        "test_accuracy": test_metrics["accuracy"],
        "test_loss": test_metrics["loss"],
        "params": count_params(model),
        "nonzero_params": count_nonzero(model),
        "size_bytes": os.path.getsize(checkpoint_path),
        "macs": macs(model),
        **timing(model, cfg),
    }


def read_metrics(path, keys=KEYS):
    """A metrics JSON file, checked for `keys` (by default those of measure()) before any work uses it."""
    metrics = load_json(path, "metrics file")
    missing = [k for k in keys if k not in metrics] if isinstance(metrics, dict) else list(keys)
    if missing:
        raise UserError(f"metrics file {path} lacks {', '.join(missing)}; expected a JSON object with "
                        f"{', '.join(keys)}, as the stage that writes it produces (dvc repro)")
    return metrics


def with_speedup(metrics, baseline, cfg):
    """`metrics` plus the baseline model's timing measured now, in the same process, and the ratios."""
    base = timing(baseline, cfg)
    return {**metrics, "baseline_latency_ms": base["latency_ms"], "baseline_throughput_ips": base["throughput_ips"],
            "latency_speedup": base["latency_ms"] / metrics["latency_ms"],
            "throughput_speedup": metrics["throughput_ips"] / base["throughput_ips"]}


def relative_to(metrics, base):
    """Compression and accuracy drop of a variant against the baseline's metrics. The compression
    ratio is the baseline's parameters over this model's nonzero parameters, so it means the same
    for a masked (unstructured) and a physically smaller (structured) model."""
    return {
        "compression_ratio": base["params"] / metrics["nonzero_params"],
        "params_reduction": 1 - metrics["params"] / base["params"],
        "macs_reduction": 1 - metrics["macs"] / base["macs"],
        "val_accuracy_drop": base["val_accuracy"] - metrics["val_accuracy"],
        "test_accuracy_drop": base["test_accuracy"] - metrics["test_accuracy"],
    }
