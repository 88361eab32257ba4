"""int8 deployment: an ONNX export quantized statically by onnxruntime's own tooling (its pre-processing:
shape inference and graph optimisation; then quantize_static: QDQ format, per-channel int8 weights, int8
activations whose ranges are calibrated on a sample of training images). A structured model quantizes
as a smaller dense one; an unstructured one as a dense model full of zeros (int8 has no sparse kernels
either). The int8 model runs in onnxruntime like the float one (lib.onnx_export.session)."""
import os
import shutil
import tempfile

import numpy as np
import onnx
import torch
from google.protobuf.message import Error as ProtobufError
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data
from onnxruntime.quantization.shape_inference import quant_pre_process

from lib.data import normalize
from lib.errors import UserError
from lib.io import atomic_path
from lib.onnx_export import INPUT, session
from lib.precision import cpu_has_vnni

METHODS = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
           "percentile": CalibrationMethod.Percentile}
BATCH = 64  # calibration images per forward pass
# Histogram bins of the entropy calibration (TensorRT's KL-divergence calibration searches 2048 bins too).
# onnxruntime's quantize_static builds its entropy calibrator with 128 bins, as many as the 128 quantized
# bins, which leaves the search one candidate threshold, the observed range: minmax's ranges. The entropy
# ranges are computed here (onnxruntime's calibrator, with these bins) and handed to quantize_static.
ENTROPY_BINS = 2048
# what onnxruntime's quantization tooling raises for a graph it cannot handle (its own errors, onnx's and
# protobuf's, and the ValueError / RuntimeError / KeyError of its Python passes); anything else propagates
REFUSALS = (ValueError, RuntimeError, KeyError, onnx.checker.ValidationError, ProtobufError, ort_errors.Fail,
            ort_errors.InvalidArgument, ort_errors.InvalidGraph, ort_errors.InvalidProtobuf,
            ort_errors.NotImplemented, ort_errors.RuntimeException)


class Images(CalibrationDataReader):
    """onnxruntime's calibration input: normalised images (a float tensor N x 3 x H x W) in batches."""

    def __init__(self, images):
        self.batches = iter(np.ascontiguousarray(images[i:i + BATCH].numpy()) for i in range(0, len(images), BATCH))

    def get_next(self):
        batch = next(self.batches, None)
        return None if batch is None else {INPUT: batch}


def calibration_sample(train, count, seed):
    """The calibration images: `count` of the training split's images (a seeded sample, in the split's
    order), normalised as every model's input is."""
    chosen = torch.randperm(len(train["labels"]), generator=torch.Generator().manual_seed(seed))
    return normalize(train["images"][chosen[:count].sort().values])


def seven_bit_weights(setting):
    """reduce_range for a setting of auto | True | False: auto is 7-bit weights only on a CPU without VNNI,
    whose 8-bit products can saturate."""
    return not cpu_has_vnni() if setting == "auto" else setting


def quantize(float_path, int8_path, images, method, reduce_range=False):
    """Write the int8 model of the ONNX export at `float_path` to `int8_path`, its activation ranges
    calibrated on `images` (normalised, from the training split) by `method` (a key of METHODS);
    `reduce_range`: 7-bit weights, for CPUs without VNNI, whose 8-bit products can saturate. An export
    onnxruntime cannot load, or a model it cannot quantize, is a UserError naming it; nothing is written
    then."""
    session(float_path)  # a missing, truncated or foreign file: refused by name before any work
    with tempfile.TemporaryDirectory() as folder:
        prepared, out = os.path.join(folder, "prepared.onnx"), os.path.join(folder, "int8.onnx")
        try:
            quant_pre_process(float_path, prepared)
            ranges = None
            if method == "entropy":
                ranges = os.path.join(folder, "ranges.json")
                calibrator = create_calibrator(prepared, augmented_model_path=os.path.join(folder, "augmented.onnx"),
                                               calibrate_method=METHODS[method],
                                               extra_options={"num_bins": ENTROPY_BINS})
                calibrator.collect_data(Images(images))
                save_tensors_data(calibrator.compute_data(), ranges)
            quantize_static(prepared, out, Images(images), quant_format=QuantFormat.QDQ, per_channel=True,
                            reduce_range=reduce_range, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                            calibrate_method=METHODS[method], calibration_cache_path=ranges)
        except REFUSALS as err:
            raise UserError(f"onnxruntime could not quantize {float_path}: {type(err).__name__}: "
                            f"{str(err).splitlines()[0][:300] if str(err) else ''}; re-export it (dvc repro "
                            "export_onnx)") from err
        with atomic_path(int8_path) as tmp:
            shutil.copyfile(out, tmp)
