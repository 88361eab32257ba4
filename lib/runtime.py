"""Seeds, determinism and the device: set in this one place."""
import os
import random

import numpy as np
import torch

from lib.errors import UserError


def pick_device(name):
    """`auto` picks cuda, then mps, then cpu; an explicit device must exist."""
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if available[d]))
    if not available.get(name, False):
        raise UserError(f"params.yaml: device = {name!r} is not available on this machine; "
                        f"use 'auto' or one of: {', '.join(d for d, ok in available.items() if ok)}")
    return torch.device(name)


def setup(seed, device_name):
    """Seed every RNG, ask for deterministic kernels, return the device."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    return pick_device(device_name)
