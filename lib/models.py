"""VGG-11 built from a filter configuration, and checkpoints as plain data.

An architecture is a plain dict, e.g.
    {"arch": "vgg11_bn", "head": "cifar", "num_classes": 10,
     "filters": [64, 128, 256, 256, 512, 512, 512, 512]}
so a pruned model (fewer filters) is built by the same code as the original, and a checkpoint
{"architecture": ..., "state_dict": ...} loads with torch.load(weights_only=True) on its own.

Layers have architecture-independent names: conv1..conv8 for the convolutions, fc1..fc3 for the
`imagenet` head's Linear layers (fc1 for the `cifar` head's single Linear).
"""
import torch
from torch import nn

from lib.errors import UserError
from lib.io import load_torch, save_torch

ARCHS = {"vgg11": False, "vgg11_bn": True}  # name -> batch norm
HEADS = ("cifar", "imagenet")
VGG11_FILTERS = [64, 128, 256, 256, 512, 512, 512, 512]
POOL_AFTER = (0, 1, 3, 5, 7)  # conv indices followed by a 2x2 max-pool (torchvision cfg "A")


def architecture(arch="vgg11_bn", head="cifar", num_classes=10, filters=None):
    return {"arch": arch, "head": head, "num_classes": int(num_classes),
            "filters": [int(f) for f in (filters or VGG11_FILTERS)]}


def scaled_filters(width):
    """VGG-11's filter counts times `width` (at least one filter per layer)."""
    return [max(1, round(f * width)) for f in VGG11_FILTERS]


class VGG(nn.Module):
    """torchvision's VGG (torchvision.models.vgg.VGG): `features`, `avgpool`, `classifier`, its forward and so
    its state_dict keys, built here rather than imported: importing torchvision takes 1.75 s (it imports
    torch._dynamo), paid by every stage that loads a model but does not train, and only the ImageNet weights
    need it. tests/test_models.py checks build() against torchvision's classes, weight for weight."""

    def __init__(self, features, avgpool, classifier):
        super().__init__()
        self.features, self.avgpool, self.classifier = features, avgpool, classifier

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _features(filters, batch_norm):
    """torchvision's make_layers for VGG-11 ("A") with these filter counts: 3x3 convs (padding 1), each
    followed by batch norm (vgg11_bn) and an in-place ReLU, a 2x2 max-pool after conv1, 2, 4, 6 and 8."""
    layers, in_channels = [], 3
    for i, f in enumerate(filters):
        layers += [nn.Conv2d(in_channels, f, kernel_size=3, padding=1)]
        layers += [nn.BatchNorm2d(f), nn.ReLU(inplace=True)] if batch_norm else [nn.ReLU(inplace=True)]
        layers += [nn.MaxPool2d(kernel_size=2, stride=2)] if i in POOL_AFTER else []
        in_channels = f
    return nn.Sequential(*layers)


def _initialise(module):
    """torchvision's VGG initialisation, module by module in order: convs He-normal (fan out), batch norm
    scale 1 and shift 0, Linear layers N(0, 0.01), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)


def build(arch, initialise=True):
    """A freshly initialised VGG-11 for `arch` (seed the global RNG first for reproducibility), drawn as
    torchvision draws it: the features, (the imagenet head's classifier,) then the initialisation. The
    `cifar` head (32x32 inputs end 1x1 after five pools: global pool -> one Linear) is created after the
    initialisation and keeps nn.Linear's default. initialise=False: the structure alone, for weights that
    come from elsewhere (built on the meta device, where torchvision's normal draws would import
    torch._dynamo, 1.5 s)."""
    filters, classes = arch["filters"], arch["num_classes"]
    features = _features(filters, ARCHS[arch["arch"]])
    if arch["head"] == "imagenet":  # its first Linear sees each channel as a 7x7 block
        classifier = nn.Sequential(nn.Linear(filters[-1] * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(0.5),
                                   nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(0.5), nn.Linear(4096, classes))
        model = VGG(features, nn.AdaptiveAvgPool2d((7, 7)), classifier)
        if initialise:
            _initialise(model)
        return model
    if initialise:
        _initialise(features)
    return VGG(features, nn.AdaptiveAvgPool2d(1), nn.Sequential(nn.Linear(filters[-1], classes)))


def load_imagenet_weights(model, arch):
    """Copy torchvision's ImageNet weights (downloaded once to the torch hub cache) into `model`:
    the features, and for the `imagenet` head the first two Linear layers (the last is new)."""
    if arch["filters"] != VGG11_FILTERS:
        raise UserError(f"pretrained weights need the full VGG-11 filters {VGG11_FILTERS}, got {arch['filters']}")
    import torchvision  # here only: see VGG
    try:
        reference = torchvision.models.get_model(arch["arch"], weights="DEFAULT")
    except OSError as err:  # URLError is an OSError
        raise UserError(f"could not download the ImageNet weights for {arch['arch']} ({err}). Without a "
                        "network, set it to false, or place the weights file in the torch hub cache "
                        f"({torch.hub.get_dir()}/checkpoints).") from err
    model.features.load_state_dict(reference.features.state_dict())
    if arch["head"] == "imagenet":
        for i in (0, 3):
            model.classifier[i].load_state_dict(reference.classifier[i].state_dict())
    return model


def convs(model):
    """[(name, features index, Conv2d)] for conv1..convN in order."""
    found = [(i, m) for i, m in enumerate(model.features) if isinstance(m, nn.Conv2d)]
    return [(f"conv{k + 1}", i, m) for k, (i, m) in enumerate(found)]


def linears(model):
    """[(name, classifier index, Linear)] for fc1..fcN in order."""
    found = [(i, m) for i, m in enumerate(model.classifier) if isinstance(m, nn.Linear)]
    return [(f"fc{k + 1}", i, m) for k, (i, m) in enumerate(found)]


def layer(model, name):
    """The Conv2d or Linear module called `name` (conv3, fc1, ...)."""
    layers = {n: m for n, _, m in convs(model) + linears(model)}
    if name not in layers:
        raise UserError(f"unknown layer '{name}'; this model has: {', '.join(layers)}")
    return layers[name]


def layer_names(model, include_linear=False):
    return [n for n, _, _ in convs(model)] + ([n for n, _, _ in linears(model)] if include_linear else [])


def head_forward(model, x):
    """The part of VGG.forward after `features`."""
    return model.classifier(torch.flatten(model.avgpool(x), 1))


def save_checkpoint(path, model, arch, **extra):
    """Plain data only: the architecture dict, the state_dict (on the CPU) and extra plain values."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_torch({"architecture": arch, "state_dict": state, **extra}, path)


def read_checkpoint(path):
    """The checkpoint dict at `path`, loaded as plain data (lib.io.load_torch) and checked for its keys."""
    ckpt = load_torch(path, "checkpoint")
    if not isinstance(ckpt, dict) or not {"architecture", "state_dict"} <= set(ckpt):
        found = type(ckpt).__name__
        if isinstance(ckpt, dict):
            found = "a dict with keys " + ", ".join(map(str, list(ckpt)[:5])) + (", ..." if len(ckpt) > 5 else "")
        raise UserError(f"{path} is not a checkpoint of this project: it holds {found}; expected a dict with "
                        "'architecture' and 'state_dict' (written by lib.models.save_checkpoint)")
    return ckpt


def _architecture_problem(arch):
    """None if `arch` is an architecture dict build() accepts, else what is wrong with it."""
    if not isinstance(arch, dict):
        return f"it is {type(arch).__name__}, not a dict"
    filters = arch.get("filters")
    if arch.get("arch") not in ARCHS or arch.get("head") not in HEADS:
        return f"arch must be one of {', '.join(ARCHS)} and head one of {', '.join(HEADS)}"
    if not (isinstance(filters, list) and len(filters) == len(VGG11_FILTERS)
            and all(isinstance(f, int) and f > 0 for f in filters)):
        return f"filters must be {len(VGG11_FILTERS)} positive integers"
    if not (isinstance(arch.get("num_classes"), int) and arch["num_classes"] > 0):
        return "num_classes must be a positive integer"
    return None


def load_checkpoint(path, device="cpu"):
    """(model in eval mode on `device`, the checkpoint's other entries: architecture, classes, ...) from
    a checkpoint file alone; one whose weights are not all finite is refused. The model is built on the
    meta device and takes the saved tensors as its own (no initialisation, no random draws), in the dtype
    they were saved in."""
    ckpt = read_checkpoint(path)
    arch = ckpt["architecture"]
    problem = _architecture_problem(arch)
    if problem:
        raise UserError(f"checkpoint {path} has an invalid architecture {arch!r}: {problem}")
    try:
        with torch.device("meta"):  # no initialisation to pay for: every tensor comes from the file
            model = build(arch, initialise=False)
        model.load_state_dict(ckpt["state_dict"], assign=True)
    except (KeyError, TypeError, RuntimeError, ValueError) as err:
        # load_state_dict lists every mismatching tensor on its own line: show the first
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        first = (lines[1] if len(lines) > 1 else "".join(lines[:1])).rstrip(".")
        more = f" (and {len(lines) - 2} more)" if len(lines) > 2 else ""
        raise UserError(f"checkpoint {path} does not match its architecture {arch}: {first[:300]}{more}; its "
                        "state_dict must hold the tensors of exactly that architecture") from err
    broken = next((key for key, t in ckpt["state_dict"].items() if t.is_floating_point() and not t.isfinite().all()),
                  None)
    if broken is not None:
        raise UserError(f"checkpoint {path} holds weights that are not finite (NaN or infinite, first in {broken}): "
                        "a model with such weights computes nothing; re-run the stage that writes it (dvc repro), or "
                        "restore the file (dvc checkout, dvc pull)")
    # The model holds the file's tensors themselves (assign=True): the dict returned keeps the rest only
    return model.to(device).eval(), {k: v for k, v in ckpt.items() if k != "state_dict"}
