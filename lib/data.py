"""Splits as uint8 tensors in memory, and batches cut, normalised and augmented as tensors on the
device (no per-image PIL work in the training loop, and on CUDA no host synchronisation per batch:
the augmentation's random numbers are drawn on the CPU generator, the seeded stream every device
shares, and copied asynchronously from pinned memory)."""
import functools
import os

import torch

from lib.errors import UserError
from lib.io import load_torch

# CIFAR-10 channel statistics, used for every source so a model's input convention is fixed.
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


def load_split(path, device="cpu"):
    """{'images': uint8 NCHW, 'labels': int64, 'classes': [str]} from a file of the download stage."""
    if not os.path.isfile(path):
        raise UserError(f"data split {path} does not exist; run the download stage first (dvc repro download)")
    split = load_torch(path, "data split")
    ok = (isinstance(split, dict) and isinstance(split.get("images"), torch.Tensor)
          and isinstance(split.get("labels"), torch.Tensor) and isinstance(split.get("classes"), list)
          and split["images"].dtype == torch.uint8 and split["images"].dim() == 4 and split["images"].shape[1] == 3
          and split["labels"].shape == split["images"].shape[:1])
    if not ok:
        raise UserError(f"{path} is not a data split of this project: expected a dict with 'images' (uint8, "
                        "N x 3 x H x W), 'labels' (N) and 'classes' (a list of names), as the download stage writes")
    return {**split, "images": split["images"].to(device), "labels": split["labels"].to(device)}


def to_device(t, device):
    """A CPU tensor on `device`: on CUDA an asynchronous copy from pinned memory (no host sync)."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


@functools.cache
def _constants(device):
    """(mean, 1 / std) in uint8 units on `device`, built once per device."""
    mean = torch.tensor(MEAN).view(1, 3, 1, 1) * 255
    return mean.to(device), (1 / (torch.tensor(STD).view(1, 3, 1, 1) * 255)).to(device)


def normalize(images):
    """uint8 NCHW -> float NCHW, normalised with the CIFAR-10 statistics."""
    mean, scale = _constants(images.device)
    return images.float().sub_(mean).mul_(scale)


def _reflect(index, size):
    """Indices outside [0, size) mirrored back, as reflection padding does (-1 -> 1, size -> size-2)."""
    index = index.abs()
    return torch.where(index >= size, 2 * (size - 1) - index, index)


def augment(x, generator=None, pad=4):
    """Random crop of the image reflection-padded by `pad` pixels, and a random horizontal flip, per
    image: one gather of computed indices (any dtype, no padded copy, no per-image loop)."""
    n, c, h, w = x.shape
    draws = torch.cat([torch.randint(0, 2 * pad + 1, (n, 1), generator=generator),
                       torch.randint(0, 2 * pad + 1, (n, 1), generator=generator),
                       (torch.rand(n, 1, generator=generator) < 0.5).long()], dim=1)
    draws = to_device(draws, x.device)  # one copy per batch
    dy, dx, flip = draws[:, 0:1], draws[:, 1:2], draws[:, 2:3].bool()
    cols = torch.arange(w, device=x.device)
    cols = torch.where(flip, cols.flip(0), cols)  # flipping the crop = reading its columns backwards
    rows = _reflect(dy + torch.arange(h, device=x.device) - pad, h)
    cols = _reflect(dx + cols - pad, w)
    return x[torch.arange(n, device=x.device)[:, None, None, None],
             torch.arange(c, device=x.device)[None, :, None, None], rows[:, None, :, None], cols[:, None, None, :]]


def check_batch_size(batch_size, split):
    """A training batch must fit in the split it is cut from (the last partial batch is dropped)."""
    if batch_size > len(split["labels"]):
        raise UserError(f"a training batch of {batch_size:,} images is larger than the training split "
                        f"({len(split['labels']):,} images); use at most {len(split['labels']):,}")


def batches(images, labels, batch_size, generator=None, drop_last=False, use_augment=False):
    """(normalised float images, labels) batches, shuffled when a generator is given, augmented
    (on the uint8 images, before normalisation) when use_augment is set."""
    n = len(labels)
    order = to_device(torch.randperm(n, generator=generator), labels.device) if generator is not None else None
    for start in range(0, n - batch_size + 1 if drop_last else n, batch_size):
        idx = order[start:start + batch_size] if order is not None else slice(start, start + batch_size)
        x = augment(images[idx], generator) if use_augment else images[idx]
        yield normalize(x), labels[idx]
