import pytest
import torch

from lib import data
from lib.errors import UserError


def test_stratified_split_is_exact_disjoint_and_proportional():
    labels = torch.arange(1000) % 10
    kept, taken = data.stratified_split(labels, 100, 1)
    assert len(taken) == 100 and len(kept) == 900
    assert set(kept.tolist()).isdisjoint(taken.tolist())
    assert sorted(kept.tolist() + taken.tolist()) == list(range(1000))
    assert torch.bincount(labels[taken]).tolist() == [10] * 10


def test_stratified_split_uneven_classes_and_seed():
    labels = torch.tensor([0] * 70 + [1] * 20 + [2] * 10)
    _, a = data.stratified_split(labels, 10, 3)
    _, b = data.stratified_split(labels, 10, 3)
    _, c = data.stratified_split(labels, 10, 4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.bincount(labels[a]).tolist() == [7, 2, 1]


def test_stratified_split_rejects_impossible_size():
    with pytest.raises(UserError, match="between 1 and 9"):
        data.stratified_split(torch.arange(10), 10, 0)


def test_stratified_split_too_small_for_the_classes_is_a_user_error():
    with pytest.raises(UserError, match="cannot take a stratified 1 of 10 images"):
        data.stratified_split(torch.arange(10) % 2, 1, 0)


def test_normalize_matches_torchvision_transform():
    import torchvision.transforms.v2.functional as F
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    expected = F.normalize(F.to_dtype(images, torch.float32, scale=True), data.MEAN, data.STD)
    assert torch.allclose(data.normalize(images), expected, atol=1e-6)


def test_augment_crops_are_shifted_windows_of_the_padded_image():
    x = torch.randn(16, 3, 32, 32)
    out = data.augment(x, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4), mode="reflect")
    for i in range(16):
        windows = [padded[i, :, dy:dy + 32, dx:dx + 32] for dy in range(9) for dx in range(9)]
        assert any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(2)) for w in windows)
    assert not torch.equal(out, x)


def test_batches_cover_every_image_once_and_drop_last():
    images = torch.zeros(10, 3, 32, 32, dtype=torch.uint8)
    labels = torch.arange(10)
    seen = torch.cat([y for _, y in data.batches(images, labels, 4, torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == list(range(10))
    assert [len(y) for _, y in data.batches(images, labels, 4, drop_last=True)] == [4, 4]


@pytest.mark.parametrize("seed", range(5))
def test_the_smallest_allowed_subset_keeps_every_class(seed):
    """config allows subsets down to one image per class (10); on the real sources' labels (the digits'
    classes are uneven: 174 to 183 images) the stratified split then keeps one image of every class."""
    from sklearn.datasets import load_digits
    labels = torch.as_tensor(load_digits().target)
    for size in (10, 11, 19):
        _, taken = data.stratified_split(labels, size, seed)
        assert (torch.bincount(labels[taken], minlength=10) >= 1).all()
    cifar = torch.arange(50_000) % 10
    _, taken = data.stratified_split(cifar, 10, seed)
    assert torch.bincount(cifar[taken]).tolist() == [1] * 10
