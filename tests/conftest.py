import os
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from lib import models  # noqa: E402

SMALL_FILTERS = [8, 16, 16, 16, 32, 32, 32, 32]


@pytest.fixture
def small_arch():
    return models.architecture("vgg11_bn", "cifar", 10, SMALL_FILTERS)


def make_split(n=64, classes=10, seed=0):
    """A random uint8 split shaped like CIFAR-10 (labels cycle through the classes)."""
    g = torch.Generator().manual_seed(seed)
    return {"images": torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
            "labels": torch.arange(n) % classes, "classes": [str(c) for c in range(classes)]}
