import torch

from lib import data


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
