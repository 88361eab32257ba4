"""int8 deployment: lib.quantize (onnxruntime's static quantization of an ONNX export) checked against the
float export it came from and against the ONNX graph itself; the quantize stage's refusals; the
deployment snippet of docs/method.md run as written."""
import os
import re
import sys

import numpy as np
import onnx
import pytest
import torch
import yaml
from onnx import numpy_helper

from conftest import ROOT, SMALL_FILTERS, make_split
from lib import models
from lib.data import normalize
from lib.errors import UserError
from lib.io import save_torch
from lib.onnx_export import export, runner, session
from lib.quantize import METHODS, quantize


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(float export, int8 model, the PyTorch model, normalised images): a small VGG-11-BN with trained-like
    batch-norm statistics (a pass over the images in training mode), quantized with minmax calibration."""
    folder = tmp_path_factory.mktemp("int8")
    torch.manual_seed(0)
    model = models.build(models.architecture("vgg11_bn", "cifar", 10, SMALL_FILTERS))
    images = normalize(make_split(256)["images"])
    with torch.no_grad():
        model.train()(images)  # running statistics of these images, as a trained model's would be
    model.eval()
    float_path, int8_path = str(folder / "m.onnx"), str(folder / "m.int8.onnx")
    export(model, float_path)
    quantize(float_path, int8_path, images[:128], "minmax")
    return float_path, int8_path, model, images


def test_the_int8_model_is_qdq_with_per_channel_int8_weights(exported):
    """Read from the graph itself: every conv and the Linear take their weights through DequantizeLinear
    from an int8 initializer, the convs' with one scale per output channel (axis 0); activations are
    quantized too (QuantizeLinear nodes beyond the weights')."""
    _, int8_path, model, _ = exported
    graph = onnx.load(int8_path).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert len(convs) == len(models.convs(model))
    for conv, (_, _, layer) in zip(convs, models.convs(model)):
        dq = producer[conv.input[1]]
        assert dq.op_type == "DequantizeLinear"
        assert inits[dq.input[0]].dtype == np.int8
        assert inits[dq.input[1]].shape == (layer.out_channels,)  # per-channel scales
    linears = [n for n in graph.node if n.op_type in ("Gemm", "MatMul")]
    assert len(linears) == 1 and producer[linears[0].input[1]].op_type == "DequantizeLinear"
    assert inits[producer[linears[0].input[1]].input[0]].dtype == np.int8
    quantizers = [n for n in graph.node if n.op_type == "QuantizeLinear"]
    assert quantizers and all(n.input[0] not in inits for n in quantizers)  # activations, not stored weights


def test_int8_logits_follow_the_float_export(exported):
    """The int8 model computes nearly what the float export does on images like its calibration's: the
    same top class on most images, logits within a tenth of the largest logit."""
    float_path, int8_path, _, images = exported
    test = images[128:]
    float_logits = runner(session(float_path))(test)
    int8_logits = runner(session(int8_path))(test)
    agreement = (float_logits.argmax(1) == int8_logits.argmax(1)).float().mean().item()
    relative = ((int8_logits - float_logits).abs().max() / float_logits.abs().max()).item()
    assert agreement >= 0.9 and relative < 0.1, (agreement, relative)
    assert os.path.getsize(int8_path) < 0.5 * os.path.getsize(float_path)  # 1-byte weights, not 4 (and the QDQ nodes)


@pytest.fixture(scope="module")
def by_method(exported, tmp_path_factory):
    """{method: the int8 model} of each calibration method, on the same 128 images (the entropy search over
    its 2048 bins is the slow one: paid once for the tests below)."""
    folder = tmp_path_factory.mktemp("methods")
    float_path, _, _, images = exported
    for method in METHODS:
        quantize(float_path, str(folder / f"{method}.onnx"), images[:128], method)
    return {method: str(folder / f"{method}.onnx") for method in METHODS}


@pytest.mark.parametrize("method", list(METHODS))
def test_each_calibration_method_gives_a_model_that_runs(exported, by_method, method):
    _, _, _, images = exported
    logits = runner(session(by_method[method]))(images[:4])
    assert logits.shape == (4, 10) and torch.isfinite(logits).all()


def activation_scales(path):
    """{name: value} of an int8 model's per-tensor scales (the activations'; weights are per channel)."""
    return {i.name: onnx.numpy_helper.to_array(i).item() for i in onnx.load(path).graph.initializer
            if i.name.endswith("_scale") and onnx.numpy_helper.to_array(i).size == 1}


def test_entropy_calibration_clips_where_minmax_keeps_the_observed_range(by_method):
    """The entropy calibrator searches a threshold below each activation's observed range: no range wider
    than minmax's (the observed one) and some narrower; percentile clips too. (With onnxruntime's own
    entropy settings in quantize_static, 128 bins, it would return minmax's ranges.)"""
    scales = {method: activation_scales(path) for method, path in by_method.items()}
    for method in ("entropy", "percentile"):
        assert scales[method].keys() == scales["minmax"].keys()
        assert all(scales[method][k] <= scales["minmax"][k] * (1 + 1e-6) for k in scales["minmax"]), method
        assert sum(scales[method][k] < 0.95 * scales["minmax"][k] for k in scales["minmax"]) >= 2, method


def test_a_file_onnxruntime_cannot_quantize_is_refused_by_name_and_nothing_is_written(tmp_path):
    bad, out = tmp_path / "broken.onnx", tmp_path / "broken.int8.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(UserError, match=f"cannot load the ONNX model {re.escape(str(bad))}: it is missing, truncated"):
        quantize(str(bad), str(out), torch.zeros(2, 3, 32, 32), "minmax")
    assert not out.exists()


def test_a_graph_the_quantizer_refuses_is_named_and_nothing_is_written(tmp_path, monkeypatch):
    """An export onnxruntime loads but its quantizer cannot handle (its tooling raises) is a UserError that
    names the file; an error of another kind (a bug, not the model) propagates as it is."""
    import lib.quantize
    float_path, out = tmp_path / "m.onnx", tmp_path / "m.int8.onnx"
    export(models.build(models.architecture("vgg11_bn", "cifar", 10, SMALL_FILTERS)).eval(), str(float_path))

    def refuses(*args, **kwargs):
        raise ValueError("unsupported op")
    monkeypatch.setattr(lib.quantize, "quantize_static", refuses)
    with pytest.raises(UserError, match=f"onnxruntime could not quantize {re.escape(str(float_path))}: "
                                        "ValueError: unsupported op"):
        quantize(str(float_path), str(out), torch.zeros(2, 3, 32, 32), "minmax")
    monkeypatch.setattr(lib.quantize, "quantize_static", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        quantize(str(float_path), str(out), torch.zeros(2, 3, 32, 32), "minmax")
    assert not out.exists()


def test_the_stage_refuses_more_calibration_images_than_the_training_split(exported, tmp_path, monkeypatch):
    import stages.quantize
    float_path = exported[0]
    (tmp_path / "data").mkdir()
    save_torch(make_split(40), str(tmp_path / "data/train.pt"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"seed": 0, "quantize": {
        "calibration_images": 41, "calibration": "minmax", "reduce_range": "auto"}}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["quantize", "--data", "data", "--onnx", f"a={float_path}",
                                      "--out", "a=a.int8.onnx", "--report", "report.json"])
    with pytest.raises(UserError, match=r"quantize.calibration_images = 41 is more than the 40 training images"):
        stages.quantize.main()
    assert not (tmp_path / "a.int8.onnx").exists() and not (tmp_path / "report.json").exists()


def test_the_documented_deployment_snippet_runs_as_written(exported):
    """docs/method.md's int8 snippet, with its model path and its images replaced by this test's, gives the
    logits the project's own session gives on the normalised images."""
    _, int8_path, _, _ = exported
    text = open(os.path.join(ROOT, "docs/method.md")).read()
    block = text[text.index("    import numpy as np, onnxruntime as ort"):]
    code = "\n".join(line[4:] for line in block[:block.index("\n\n")].splitlines())
    raw = make_split(8)["images"]
    code = code.replace('"models/vgg11_cifar10_structured_pruned_finetuned.int8.onnx"', repr(int8_path))
    scope = {"uint8_images_nchw": raw.numpy()}
    exec(code, scope)
    expected = runner(session(int8_path))(normalize(raw))
    np.testing.assert_allclose(scope["logits"], expected.numpy(), rtol=1e-4, atol=1e-4)
