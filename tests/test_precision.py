"""lib.precision: the choice of precision follows the hardware, bf16 agrees with fp32 within a stated
tolerance, channels_last changes no fp32 output, and a run repeats bit for bit at a fixed precision."""
import pytest
import torch

from lib import models, precision, train
from lib.data import normalize
from conftest import make_split

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
HP = train.Recipe(epochs=1, batch_size=16, lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="cosine", augment=True,
                  label_smoothing=0.0)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    for flags, expected in [("fpu sse avx512f amx_bf16 amx_tile", True), ("fpu avx512f avx512_bf16", True),
                            ("fpu sse avx2 avx512f", False)]:
        (tmp_path / "cpuinfo").write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
        assert precision.cpu_has_bf16(str(tmp_path / "cpuinfo")) is expected
    assert precision.cpu_has_bf16(str(tmp_path / "missing")) is False  # no such file: fp32 is the safe choice


@pytest.mark.parametrize("has_bf16", [True, False])
def test_auto_follows_the_detected_hardware(monkeypatch, has_bf16):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: has_bf16)
    bf16 = {"precision": "bf16", "memory_format": "channels_last"}
    fp32 = {"precision": "fp32", "memory_format": "contiguous"}
    assert precision.choose("auto", CPU) == (bf16 if has_bf16 else fp32)
    assert precision.choose("auto", CUDA) == bf16 and precision.choose("auto", torch.device("mps")) == fp32
    assert precision.choose("fp32", CUDA) == fp32 and precision.choose("bf16", CPU) == bf16  # explicit wins


def test_the_default_policy_is_bf16_on_cuda_only():
    assert precision.current(CPU)["precision"] == "fp32" and precision.current(CUDA)["precision"] == "bf16"
    precision.use(precision.choose("bf16", CPU))
    assert precision.current(CPU) == {"precision": "bf16", "memory_format": "channels_last"}


def test_bf16_logits_agree_with_fp32(small_arch):
    """The same model and batch under bf16 autocast: logits within 0.1 of fp32's (relative to their
    spread: bf16 keeps 8 bits of mantissa, about 2 decimal digits, through 11 layers), and the same
    prediction for nearly every image."""
    torch.manual_seed(0)
    model = models.build(small_arch).eval()
    x = normalize(make_split(64)["images"])
    with torch.no_grad():
        fp32 = model(x)
        precision.use(precision.choose("bf16", CPU))
        with precision.autocast(CPU):
            bf16 = model(precision.batch(x, CPU)).float()
    assert bf16.dtype == torch.float32 and not torch.equal(bf16, fp32)  # bf16 did run
    assert (bf16 - fp32).abs().max() <= 0.1 * fp32.std()
    assert (bf16.argmax(1) == fp32.argmax(1)).float().mean() >= 0.9


def test_channels_last_changes_no_fp32_output(small_arch):
    """Batches in channels_last: the convolutions run NHWC (their output is channels_last) and give
    fp32's outputs to rounding."""
    torch.manual_seed(0)
    model = models.build(small_arch).eval()
    x = normalize(make_split(16)["images"])
    precision.use({"precision": "fp32", "memory_format": "channels_last"})
    with torch.no_grad():
        contiguous = model(x)
        last = model(precision.batch(x, CPU))
        assert model.features[0](precision.batch(x, CPU)).is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(last, contiguous, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["fp32", "bf16"])
def test_training_repeats_bit_for_bit_at_a_fixed_precision(small_arch, name, tmp_path):
    """Two seeded runs at one precision: identical weights and identical checkpoint bytes."""
    precision.use(precision.choose(name, CPU))
    split, runs = make_split(64), []
    for k in range(2):
        torch.manual_seed(0)
        model = models.build(small_arch)
        train.fit(model, {"train": split, "val": split}, HP, 7, 32)
        models.save_checkpoint(tmp_path / f"{k}.pth", model, small_arch)
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert (tmp_path / "0.pth").read_bytes() == (tmp_path / "1.pth").read_bytes()
