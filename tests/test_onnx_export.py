"""lib.onnx_export: an export run by onnxruntime computes what the PyTorch model does, at any batch
size; a wrong export is refused by name; the structured model exports smaller, an unstructured one
dense; a second export is byte-identical and names no path of this machine."""
import os

import pytest
import torch

from lib import models, onnx_export
from lib.data import normalize
from lib.errors import UserError
from lib.pruning.structured import remove_filters
from lib.pruning.unstructured import apply_unstructured, make_permanent
from conftest import ROOT, make_split


@pytest.fixture
def model(small_arch):
    torch.manual_seed(0)
    return models.build(small_arch).eval()


def test_onnxruntime_gives_pytorch_logits_at_any_batch_size(model, tmp_path):
    path = str(tmp_path / "m.onnx")
    onnx_export.export(model, path)
    forward = onnx_export.runner(onnx_export.session(path, threads=1))
    for n in (1, 5):
        x = normalize(make_split(n)["images"])
        with torch.inference_mode():
            torch.testing.assert_close(forward(x), model(x), rtol=1e-4, atol=1e-5)
    assert onnx_export.check(model, onnx_export.session(path), "m", normalize(make_split(8)["images"])) <= 1e-4
    onnx_export.export(model, str(tmp_path / "again.onnx"))
    assert (tmp_path / "again.onnx").read_bytes() == (tmp_path / "m.onnx").read_bytes()


def test_an_export_names_no_path_of_this_machine(model, tmp_path):
    """torch.onnx's exporter keeps each op's Python stack trace, the absolute paths of torch's (and the
    model's) source files; an export without them is the same file on any machine and from any clone."""
    onnx_export.export(model, str(tmp_path / "m.onnx"))
    data = (tmp_path / "m.onnx").read_bytes()
    for path in (os.path.dirname(torch.__file__), ROOT):
        assert path.encode() not in data, path


def test_an_export_of_another_model_is_refused_by_name(model, small_arch, tmp_path):
    onnx_export.export(model, str(tmp_path / "m.onnx"))
    torch.manual_seed(1)
    other = models.build(small_arch).eval()
    with pytest.raises(UserError, match=r"the ONNX export of other differs from the PyTorch model"):
        onnx_export.check(other, onnx_export.session(str(tmp_path / "m.onnx")), "other",
                          normalize(make_split(8)["images"]))


def test_structured_exports_smaller_unstructured_dense(model, small_arch, tmp_path):
    small, _ = remove_filters(model, small_arch, {f"conv{i}": 0.5 for i in range(1, 9)})
    sparse = make_permanent(apply_unstructured(models.build(small_arch).eval(), {f"conv{i}": 0.9 for i in range(1, 9)}))
    for name, m in (("dense", model), ("small", small.eval()), ("sparse", sparse)):
        onnx_export.export(m, str(tmp_path / f"{name}.onnx"))
    size = {name: (tmp_path / f"{name}.onnx").stat().st_size for name in ("dense", "small", "sparse")}
    assert size["small"] < size["dense"] / 2 and size["sparse"] == pytest.approx(size["dense"], rel=0.01)
