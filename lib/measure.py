"""What every model variant reports, under the same JSON keys, measured from its checkpoint by the
evaluate stage: accuracy, parameters, nonzero parameters, size on disk and MACs, and against the
baseline, compression and accuracy drops; and the accuracy of its deployed forms, float and int8, in
onnxruntime (timing is apart, in lib/timing.py)."""
import os

import torch
from torch.utils.flop_counter import FlopCounterMode

from lib import precision
from lib.io import load_json
from lib.data import batches
from lib.onnx_export import runner, session
from lib.train import evaluate, score

KEYS = ("val_accuracy", "test_accuracy", "test_loss", "params", "nonzero_params", "size_bytes", "macs")


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


def measure(model, checkpoint_path, data, batch_size):
    """The common metrics of one saved model variant (data["val"] and data["test"], evaluated in batches of
    `batch_size`), with the precision and memory format its accuracies were measured in."""
    val_metrics = evaluate(model, data["val"], batch_size)
    test_metrics = evaluate(model, data["test"], batch_size)
    return {
        "val_accuracy": val_metrics["accuracy"],
        "test_accuracy": test_metrics["accuracy"],
        "test_loss": test_metrics["loss"],
        "params": count_params(model),
        "nonzero_params": count_nonzero(model),
        "size_bytes": os.path.getsize(checkpoint_path),
        "macs": macs(model),
        **precision.current(data["test"]["labels"].device),
    }


def deployed_accuracy(path, data, batch_size, splits=("val", "test")):
    """{"<split>_accuracy"} of an ONNX model (float or int8) in onnxruntime on each of `splits` (keys of
    `data`), through the same evaluation as every model (lib.train.score, the session as the forward function)."""
    forward = runner(session(path))
    return {f"{name}_accuracy": score(forward, batches(data[name]["images"], data[name]["labels"], batch_size),
                                      data[name]["labels"].device)["accuracy"] for name in splits}


def read_metrics(path):
    """A metrics JSON file of measure(), checked for its keys before any work uses it."""
    return load_json(path, "metrics file", keys=KEYS)


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
