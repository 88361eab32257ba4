"""lib.runtime.setup: the flags it sets, and what a stage process imports (each stage is a new interpreter,
so a second of imports is a second per stage)."""
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
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
def test_setup_sets_the_public_flags(deterministic, flags_put_back):
    """What torch.use_deterministic_algorithms(deterministic, warn_only=True) sets, read back through torch's
    public getters."""
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    public = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(not deterministic, warn_only=False)
    assert runtime.setup(3, "cpu", "fp32", deterministic) == torch.device("cpu")
    assert (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()) \
        == public == (deterministic, True)
    assert torch.backends.cudnn.benchmark is not deterministic
    assert torch.utils.deterministic.fill_uninitialized_memory is False
    assert torch.initial_seed() == 3


def test_a_stage_imports_neither_dynamo_nor_torchvision():
    """The models, the config and the runtime setup every stage runs leave out torch._dynamo (about a second
    to import) and torchvision (which imports it); only the download and Grad-CAM stages need torchvision."""
    code = ("import sys; from lib import config, measure, models, runtime, train; "
            "runtime.setup(0, 'cpu', 'fp32', True); models.build(models.architecture()); "
            "print(sorted(m for m in ('torch._dynamo', 'torch._inductor', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
