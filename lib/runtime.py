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
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False
    torch.backends.cudnn.benchmark = not deterministic
    device = pick_device(device_name)
    precision.use(precision.choose(precision_name, device))
    return device
