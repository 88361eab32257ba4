import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from lib import models  # noqa: E402

SMALL_FILTERS = [8, 16, 16, 16, 32, 32, 32, 32]


@pytest.fixture(autouse=True)
def default_precision():
    """Every test starts with no precision chosen (bf16 on CUDA, fp32 elsewhere): a stage run in the test
    process chooses one for the rest of that process (lib.precision.use)."""
    from lib import precision
    precision.use({})
    yield
    precision.use({})


@pytest.fixture
def small_arch():
    return models.architecture("vgg11_bn", "cifar", 10, SMALL_FILTERS)


def make_split(n=64, classes=10, seed=0):
    """A random uint8 split shaped like CIFAR-10 (labels cycle through the classes)."""
    g = torch.Generator().manual_seed(seed)
    return {"images": torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
            "labels": torch.arange(n) % classes, "classes": [str(c) for c in range(classes)]}


from tools.paramdoc import declarations, stage_modules  # noqa: E402, F401  (the stages' declarations, for the tests)


def committed_params():
    """The text of the committed params.yaml (`make demo` leaves the demo's settings in the working copy;
    the tests about the defaults read the commit's), or the working copy's outside a git clone."""
    shown = subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=ROOT, capture_output=True, text=True)
    return shown.stdout if shown.returncode == 0 else open(os.path.join(ROOT, "params.yaml")).read()


def load_params(*sections, path):
    """lib.config.load of whole sections (or top-level keys) of the params file at `path`, as the stages
    that own them declare them."""
    from lib import config
    declared = declarations()
    top = [name for name in sections if not isinstance(declared[name], type)]
    schema = {config.TOP: config.part(config.Run, *top)} if top else {}
    return config.load({**schema, **{name: declared[name] for name in sections if name not in top}}, path=path)
