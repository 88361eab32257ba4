"""lib.runtime.setup: the seed and the kernel flags it sets, read back through torch's getters."""
import pytest
import torch

from lib import runtime


@pytest.fixture
def flags_put_back():
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.benchmark, torch.utils.deterministic.fill_uninitialized_memory)
    yield
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.benchmark = saved[2]
    torch.utils.deterministic.fill_uninitialized_memory = saved[3]


@pytest.mark.parametrize("deterministic", [True, False])
def test_setup_sets_the_kernel_flags(deterministic, flags_put_back):
    """`deterministic`: deterministic kernels (warnings, not errors, where an op has none) and cuDNN's
    autotuner off, or the reverse; never the NaN fill of uninitialised memory; every RNG seeded."""
    torch.use_deterministic_algorithms(not deterministic, warn_only=False)
    torch.backends.cudnn.benchmark = deterministic
    assert runtime.setup(3, "cpu", "fp32", deterministic) == torch.device("cpu")
    assert torch.are_deterministic_algorithms_enabled() is deterministic
    assert torch.is_deterministic_algorithms_warn_only_enabled() is True
    assert torch.backends.cudnn.benchmark is not deterministic
    assert torch.utils.deterministic.fill_uninitialized_memory is False
    assert torch.initial_seed() == 3


def test_setup_does_not_import_torchinductor():
    """The deterministic flag is set without importing TorchInductor (about 1.5 s of every stage's start, lib.runtime),
    and reads back through the public getters as torch.use_deterministic_algorithms would set it."""
    import subprocess
    import sys
    from conftest import ROOT
    probe = ("import sys, torch; from lib import runtime; runtime.setup(0, 'cpu'); "
             "print('torch._inductor' in sys.modules, torch.are_deterministic_algorithms_enabled(), "
             "torch.is_deterministic_algorithms_warn_only_enabled())")
    shown = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["False", "True", "True"]
