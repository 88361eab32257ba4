"""Deployment in a real inference runtime: a model exported to ONNX (torch.onnx's torch.export-based
exporter, one self-contained file, the batch dimension dynamic) and run by onnxruntime on the CPU.
A structured model exports physically smaller; an unstructured one dense, its zeros stored and
multiplied like any other weight (onnxruntime's CPU kernels have no sparse path for them)."""
import warnings

import numpy as np
import onnxruntime
import torch

from lib.errors import UserError
from lib.io import atomic_path

INPUT, OUTPUT = "images", "logits"
TOLERANCE = 1e-4  # largest |onnxruntime - PyTorch| logit difference allowed, relative to the largest |logit|


def export_path(checkpoint):
    """Where a checkpoint's ONNX export lives: beside it, .pth -> .onnx."""
    return checkpoint[:-len(".pth")] + ".onnx"


def export(model, path, image_size=32):
    """Write `model` (eval mode, on the CPU) to `path` as ONNX, input `images` (N x 3 x H x W float,
    normalised as in training), output `logits`."""
    example = torch.zeros(1, 3, image_size, image_size)
    with warnings.catch_warnings():  # the exporter's progress and deprecation notes: the result is checked
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model.cpu().eval(), (example,), input_names=[INPUT], output_names=[OUTPUT],
                                    dynamic_shapes=({0: "batch"},), dynamo=True, external_data=False,
                                    verbose=False)
    for node in program.model.graph.all_nodes():  # each op's Python stack trace: this machine's absolute source
        node.metadata_props.pop("pkg.torch.onnx.stack_trace", None)  # paths; the file depends on the model alone
    with atomic_path(path) as tmp:
        program.save(tmp, external_data=False)


def session(path, threads=None):
    """An onnxruntime CPU session for the model at `path`, on `threads` intra-op threads (torch's count
    by default) that do not spin after each run: spinning threads keep the cores busy between calls
    and would slow whatever is timed next (interleaved timing needs them idle)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own Fail, InvalidProtobuf, NoSuchFile ...
        reason = str(err).splitlines()[0][:300] if str(err) else type(err).__name__
        raise UserError(f"cannot load the ONNX model {path}: it is missing, truncated or not an ONNX model "
                        f"onnxruntime runs ({reason}); regenerate it (dvc repro) or fetch it (dvc pull)") from err


def runner(sess):
    """forward(x): the session's logits for a tensor batch (on any device), as a tensor on that device."""
    return lambda x: torch.from_numpy(sess.run([OUTPUT], {INPUT: np.ascontiguousarray(x.detach().cpu().numpy())})[0]
                                      ).to(x.device)


def check(model, sess, name, images):
    """Refuse an export whose logits on `images` differ from PyTorch's by more than TOLERANCE (relative
    to the largest logit); returns the largest difference, relative."""
    with torch.inference_mode():
        expected = model.cpu().eval()(images)
    got = runner(sess)(images)
    worst = float((got - expected).abs().max() / expected.abs().max().clamp(min=1.0))
    if not worst <= TOLERANCE:
        raise UserError(f"the ONNX export of {name} differs from the PyTorch model: largest logit difference "
                        f"{worst:.2e} of the largest logit (allowed {TOLERANCE:.0e})")
    return worst
