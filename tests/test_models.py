import pytest
import torch

from lib import models
from lib.errors import UserError, param
from conftest import SMALL_FILTERS


@pytest.mark.parametrize("arch", ["vgg11", "vgg11_bn"])
@pytest.mark.parametrize("head", ["cifar", "imagenet"])
def test_build_matches_filters_and_runs(arch, head):
    model = models.build(models.architecture(arch, head, 10, SMALL_FILTERS)).eval()
    assert [m.out_channels for _, _, m in models.convs(model)] == SMALL_FILTERS
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert models.layer_names(model) == [f"conv{i}" for i in range(1, 9)]


def test_full_vgg11_bn_matches_torchvision_features():
    import torchvision
    torch.manual_seed(0)
    ours = models.build(models.architecture("vgg11_bn", "imagenet"))
    torch.manual_seed(0)
    reference = torchvision.models.vgg11_bn(num_classes=10)
    for (name, a), b in zip(ours.state_dict().items(), reference.state_dict().values(), strict=True):
        assert torch.equal(a, b), name  # the imagenet head is torchvision's VGG-11-BN, initialisation included
    assert [tuple(p.shape) for p in ours.features.state_dict().values()] == \
           [tuple(p.shape) for p in reference.features.state_dict().values()]
    assert ours.classifier[0].in_features == 512 * 7 * 7 and ours.classifier[6].out_features == 10


@pytest.mark.parametrize("batch_norm", [False, True])
def test_cifar_build_initialises_the_features_as_torchvision_and_builds_no_imagenet_head(batch_norm):
    """Same seed: the features equal torchvision's make_layers initialised as VGG.__init__ does; no tensor
    is left on the meta device, no 4096-wide layer was kept."""
    from torchvision.models.vgg import make_layers
    arch = models.architecture("vgg11_bn" if batch_norm else "vgg11", "cifar", 10, SMALL_FILTERS)
    torch.manual_seed(5)
    ours = models.build(arch)
    torch.manual_seed(5)
    cfg = [8, "M", 16, "M", 16, 16, "M", 32, 32, "M", 32, 32, "M"]  # torchvision's "A" with SMALL_FILTERS
    assert [c for c in cfg if c != "M"] == SMALL_FILTERS
    features = make_layers(cfg, batch_norm=batch_norm)
    for m in features.modules():  # the loop of torchvision's VGG.__init__, written out, on the features alone
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            torch.nn.init.constant_(m.bias, 0)
        elif isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.constant_(m.weight, 1)
            torch.nn.init.constant_(m.bias, 0)
    head = torch.nn.Linear(SMALL_FILTERS[-1], 10)  # nn.Linear's default, drawn after the features' initialisation
    for (name, a), b in zip(ours.state_dict().items(), [*features.state_dict().values(), *head.state_dict().values()],
                            strict=True):
        assert torch.equal(a, b), name
    assert str(ours.features) == str(features)
    assert not any(t.is_meta for t in [*ours.parameters(), *ours.buffers()])
    assert [m.out_features for m in ours.modules() if isinstance(m, torch.nn.Linear)] == [10]


def test_models_and_the_stages_that_build_them_do_not_import_torchvision():
    """torchvision's import costs every stage process 1.75 s (it imports torch._dynamo): lib.models builds
    the VGG itself and imports torchvision only for the ImageNet weights."""
    import subprocess
    import sys
    from conftest import ROOT
    probe = "import sys, lib.models, stages.finetune, stages.evaluate; print('torchvision' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "False"


def test_full_vgg11_forward_is_torchvisions():
    """The same weights in torchvision's VGG and in ours compute the same logits (the forward, not only
    the layers, is torchvision's)."""
    import torchvision
    ours = models.build(models.architecture("vgg11_bn", "imagenet")).eval()
    reference = torchvision.models.vgg11_bn(num_classes=10).eval()
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(ours(x), reference(x))


def test_checkpoint_round_trip_is_plain_data(tmp_path, small_arch):
    model = models.build(small_arch).eval()
    path = tmp_path / "m.pth"
    models.save_checkpoint(path, model, small_arch, classes=list("abcdefghij"))
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["architecture"] == small_arch and ckpt["classes"] == list("abcdefghij")
    loaded, _ = models.load_checkpoint(str(path))
    x = torch.randn(3, 3, 32, 32)
    assert torch.equal(loaded(x), model(x))


def test_pickled_object_checkpoint_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this would run on load",))
    path = tmp_path / "evil.pth"
    torch.save({"architecture": Evil(), "state_dict": {}}, path)
    with pytest.raises(UserError, match="pickled Python objects"):
        models.read_checkpoint(str(path))


def test_truncated_foreign_and_mismatched_checkpoints(tmp_path, small_arch):
    model = models.build(small_arch)
    good = tmp_path / "good.pth"
    models.save_checkpoint(good, model, small_arch)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(UserError, match="truncated"):
        models.load_checkpoint(str(truncated))
    foreign = tmp_path / "foreign.pth"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(UserError, match="not a checkpoint of this project"):
        models.load_checkpoint(str(foreign))
    mismatched = tmp_path / "mismatched.pth"
    torch.save({"architecture": {**small_arch, "filters": [4] * 8}, "state_dict": model.state_dict()}, mismatched)
    with pytest.raises(UserError, match="does not match"):
        models.load_checkpoint(str(mismatched))
    with pytest.raises(UserError, match="does not exist"):
        models.load_checkpoint(str(tmp_path / "missing.pth"))


def test_imagenet_weights_load_through_torchvision_offline(tmp_path, monkeypatch):
    """The real torchvision path (get_model + hub cache), with a state dict placed in a temporary
    torch hub cache so nothing is downloaded. The file holds every tensor of torchvision's vgg11_bn at
    its shape; those of a million values or more are one random value broadcast (stride 0), so the
    file is a few MB instead of 0.5 GB."""
    import torchvision
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    weights = torchvision.models.VGG11_BN_Weights.IMAGENET1K_V1
    with torch.device("meta"):
        shapes = torchvision.models.vgg11_bn().state_dict()
    g = torch.Generator().manual_seed(0)
    reference = {name: (torch.randn(t.shape, generator=g) if t.numel() < 2**20
                        else torch.randn((), generator=g).expand(t.shape)) if t.is_floating_point()
                 else torch.zeros(t.shape, dtype=t.dtype) for name, t in shapes.items()}
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(reference, cache / weights.url.rsplit("/", 1)[1])
    assert (cache / weights.url.rsplit("/", 1)[1]).stat().st_size < 2**23
    arch = models.architecture("vgg11_bn", "imagenet")
    model = models.load_imagenet_weights(models.build(arch), arch)
    assert torch.equal(model.features[0].weight, reference["features.0.weight"])
    assert torch.equal(model.features[15].weight, reference["features.15.weight"])  # a broadcast one
    assert torch.equal(model.classifier[3].weight, reference["classifier.3.weight"])
    assert model.classifier[6].out_features == 10


def test_imagenet_weights_offline_without_cache_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    import torch.hub
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("network unreachable")))
    arch = models.architecture("vgg11_bn", "cifar")
    with pytest.raises(UserError, match="^params.yaml: finetune.pretrained: could not download .* set it to false"), \
            param("finetune.pretrained"):  # as the finetune stage calls it
        models.load_imagenet_weights(models.build(arch), arch)


def test_unknown_layer_names_the_valid_ones(small_arch):
    with pytest.raises(UserError, match="conv1, conv2"):
        models.layer(models.build(small_arch), "conv9")


def test_scaled_filters():
    assert models.scaled_filters(1.0) == models.VGG11_FILTERS
    assert models.scaled_filters(0.25) == [16, 32, 64, 64, 128, 128, 128, 128]
    assert models.scaled_filters(0.001) == [1] * 8  # every layer keeps a filter


def test_a_checkpoint_loads_without_random_draws_or_torch_dynamo(tmp_path, small_arch):
    """load_checkpoint builds the structure alone on the meta device: the global RNG is untouched and
    torch._dynamo (imported by a normal draw on the meta device, 1.5 s) is not imported."""
    import subprocess
    import sys
    from conftest import ROOT
    models.save_checkpoint(tmp_path / "m.pth", models.build(small_arch), small_arch)
    probe = ("import sys, torch; from lib import models; torch.manual_seed(1); before = torch.rand(1); "
             f"torch.manual_seed(1); models.load_checkpoint({str(tmp_path / 'm.pth')!r}); "
             "print('torch._dynamo' in sys.modules, torch.equal(torch.rand(1), before))")
    shown = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["False", "True"]
