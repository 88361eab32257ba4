"""Seeds, determinism and the device: set in this one place."""
import os
import random

import numpy as np
import torch

from lib.config import available_devices


def pick_device(name):
    """`auto` picks cuda, then mps, then cpu; an explicit name (checked by lib.config) is used as is."""
    return torch.device(available_devices()[0] if name == "auto" else name)


def setup(seed, device_name):
    """Seed every RNG, ask for deterministic kernels, return the device."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    return pick_device(device_name)
