import torch

from lib import measure, models

def test_macs_of_full_vgg11_match_a_hand_count():
    """Conv MACs = H*W*Cin*Cout*9 per layer (padding 1), plus the Linear; an independent count."""
    model = models.build(models.architecture("vgg11", "cifar"))
    expected, size, cin = 0, 32, 3
    for i, cout in enumerate(models.VGG11_FILTERS):
        expected += size * size * cin * cout * 9
        cin = cout
        if i in models.POOL_AFTER:
            size //= 2
    expected += 512 * 10
    assert measure.macs(model) == expected


def test_params_and_nonzero(small_arch):
    """Against the architecture's own count (lib.cost, from the filter counts alone) and a zeroed layer."""
    from lib import cost
    model = models.build(small_arch)
    assert measure.count_params(model) == cost.total(small_arch, "params")
    before = measure.count_nonzero(model)
    with torch.no_grad():
        model.features[0].weight.zero_()
    assert measure.count_nonzero(model) == before - model.features[0].weight.numel()


def test_measure_has_the_common_keys(tmp_path, small_arch):
    from conftest import make_split
    model = models.build(small_arch).eval()
    path = tmp_path / "m.pth"
    models.save_checkpoint(path, model, small_arch)
    split = make_split(20)
    result = measure.measure(model, str(path), {"val": split, "test": split}, 32)
    assert set(result) == {"val_accuracy", "test_accuracy", "test_loss", "params", "nonzero_params",
                           "size_bytes", "macs", "precision", "memory_format"}
    assert (result["precision"], result["memory_format"]) == ("fp32", "contiguous")  # the CPU's default
    assert result["size_bytes"] == path.stat().st_size
