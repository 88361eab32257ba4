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


@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory):
    """The project copied into a temporary git repo and reproduced end to end (`dvc repro`) on the
    tiny configuration of test_pipeline. Session-scoped: test_pipeline and test_reproducibility share
    it, so the suite pays for one pipeline run (plus the reproducibility test's `dvc repro -f`)."""
    from test_pipeline import STAGES, dvc, make_repo, ran
    path = make_repo(tmp_path_factory.mktemp("e2e") / "project")
    output = dvc(path, "repro")
    assert ran(output) == STAGES, output
    return path
