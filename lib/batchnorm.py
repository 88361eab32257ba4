"""Batch-norm recalibration: after filters are removed or weights zeroed, the running statistics of the
layers that follow no longer describe their inputs; a few training batches in train mode re-estimate them."""
import itertools
from typing import NamedTuple

import torch
from torch import nn
from torch.optim.swa_utils import update_bn

from lib.data import batches
from lib.errors import UserError, warn


class Recalibration(NamedTuple):
    """How batch-norm statistics are re-estimated: from `batches` full, shuffled batches of `batch_size`
    images of `split` (the training split), drawn afresh from a generator seeded with `seed` each time, so
    every model recalibrated with one Recalibration sees the same images (0 batches: not at all)."""
    split: dict
    batches: int
    batch_size: int
    seed: int


def has_batchnorm(model):
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def training_batches(how):
    """The (normalised images, labels) batches a recalibration as `how` draws (always the same for one `how`).
    A split without one full batch is refused (the statistics would stay reset); one with fewer full
    batches than asked gives all it has, with a warning attributed to the code outside lib that asked."""
    available = len(how.split["labels"]) // how.batch_size
    if not available:
        raise UserError(f"batch-norm recalibration needs at least one full batch of {how.batch_size} training "
                        f"images; the training split has {len(how.split['labels'])}: lower the batch size or use "
                        "more images")
    if available < how.batches:
        warn(f"batch-norm recalibration asked for {how.batches} batches of {how.batch_size}; the training split "
             f"holds {available}: using {available}")
    drawn = batches(how.split["images"], how.split["labels"], how.batch_size, torch.Generator().manual_seed(how.seed),
                    True)
    return list(itertools.islice(drawn, how.batches))


@torch.no_grad()
def reestimate(module, inputs):
    """The batch-norm running statistics of `module` re-estimated from `inputs` ((input, label) pairs) in
    train mode: torch.optim.swa_utils.update_bn, a cumulative average, each layer's momentum put back."""
    update_bn(inputs, module)


def recalibrate_batchnorm(model, how):
    """Re-estimate the batch-norm running statistics of `model` as `how` says (training_batches, reestimate).
    Returns the model in eval mode (as it was when it has no batch norm or how.batches is 0)."""
    if not how.batches or not has_batchnorm(model):
        return model
    reestimate(model, training_batches(how))
    return model.eval()
