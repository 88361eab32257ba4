"""Seeds, determinism, the device and the precision: set in this one place."""
import os
import random

import numpy as np
import torch

from lib import precision
from lib.config import available_devices


def pick_device(name):
    """`auto` picks cuda, then mps, then cpu; an explicit name (checked by lib.config) is used as is."""
    return torch.device(available_devices()[0] if name == "auto" else name)


def use_deterministic_kernels(mode):
    """torch.use_deterministic_algorithms(mode, warn_only=True) for eager PyTorch. The public function also
    sets TorchInductor's `deterministic` option, and importing TorchInductor's config (which imports
    torch._dynamo) costs a process 1.5 s: `import torch` and the public call take 3.1 s, with this one 1.6 s
    (best of 3 on 2 idle cores). This project never compiles with TorchInductor, so it sets the eager flag
    alone, through the call the public function makes; a stage that does not train then never imports
    torch._dynamo (torch.optim's optimizers do). tests/test_runtime.py checks the flags against the public
    getters."""
    set_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_flag is None:  # a PyTorch without it: the public function, at its cost
        torch.use_deterministic_algorithms(mode, warn_only=True)
    else:
        set_flag(mode, warn_only=True)


def setup(seed, device_name, precision_name="fp32", deterministic=True):
    """Seed every RNG, choose the kernels (`deterministic`: deterministic ones, cuDNN's autotuner off;
    else the fastest, cuDNN's autotuner on: on CUDA, runs then differ in the last bits) and the
    precision (lib.precision.choose), return the device. Uninitialised memory is not filled with NaN
    (what PyTorch does by default under deterministic algorithms): every tensor the project reads it
    has written."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    use_deterministic_kernels(deterministic)
    torch.utils.deterministic.fill_uninitialized_memory = False
    torch.backends.cudnn.benchmark = not deterministic
    device = pick_device(device_name)
    precision.use(precision.choose(precision_name, device))
    return device
