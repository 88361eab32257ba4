"""Batch-norm recalibration: after filters are removed, the running statistics of the layers that
follow no longer describe their inputs; a few training batches in train mode re-estimate them."""
import itertools
import warnings

import torch
from torch import nn
from torch.optim.swa_utils import update_bn

from lib.data import batches
from lib.errors import UserError


@torch.no_grad()
def recalibrate_batchnorm(model, split, num_batches, batch_size, generator):
    """Re-estimate batch-norm running statistics from `num_batches` full, shuffled training batches (train
    mode, no gradient, a cumulative average: torch.optim.swa_utils.update_bn, which puts each layer's
    momentum back): useful after filters were removed. A split without one full batch is refused (the
    statistics would stay reset); one with fewer full batches than asked gives all it has, with a
    warning. Returns the model in eval mode (as it was when it has no batch norm or num_batches is 0)."""
    if not num_batches or not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model
    available = len(split["labels"]) // batch_size
    if not available:
        raise UserError(f"batch-norm recalibration needs at least one full batch of {batch_size} training images; "
                        f"the training split has {len(split['labels'])}: lower the batch size or use more images")
    if available < num_batches:
        warnings.warn(f"batch-norm recalibration asked for {num_batches} batches of {batch_size}; the training split "
                      f"holds {available}: using {available}", stacklevel=2)
    update_bn(itertools.islice(batches(split["images"], split["labels"], batch_size, generator, True), num_batches),
              model)
    return model.eval()
