"""Structured filter pruning: rank a conv layer's filters by an importance criterion (L1 norm by default;
L2 norm, random, batch-norm scale, first-order Taylor or FPGM: filter_scores, Torch-Pruning's importances
but for random), then either zero the lowest ones in
place (mask_filters) or build a physically smaller VGG-11 without them (remove_filters) (how a reduction of
MACs or parameters is spread over the layers: lib.pruning.structured_allocation). Layers are named
as in lib.models; a ratio is the fraction of a layer's filters removed: round(ratio * count) of them.
"""
import dataclasses
import itertools

import torch
import torch_pruning as tp
from torch import nn

from lib import config, data, models
from lib.batchnorm import recalibrate_batchnorm
from lib.config import setting
from lib.errors import UserError, warn
from lib.precision import autocast

CRITERIA = ("l1", "l2", "random", "bn_scale", "taylor", "fpgm")


@dataclasses.dataclass(frozen=True)
class StructuredPrune:
    """The structured_prune section: owned by that stage; its random control reads round_to and the
    recalibration, the sweep the criterion, the trade-off curve those and the target kind."""
    ratios: object = setting(config.per_layer)
    target: object = setting(config.optional(config.reduction_target))
    target_kind: str = setting(config.choice("macs", "params"))
    budget: float = setting(config.non_negative_number)
    allocation: str = setting(config.choice("sensitivity", "uniform", "per_layer"))
    criterion: str = setting(config.choice(*CRITERIA))
    round_to: int = setting(config.positive_int)
    bn_recalibration_batches: int = setting(config.non_negative_int)


def filter_norms(conv):
    """L1 norm of each output filter of a Conv2d."""
    return conv.weight.detach().abs().sum(dim=(1, 2, 3))


def _bn_after(model, index):
    """The BatchNorm2d right after features[index], or None."""
    following = model.features[index + 1]
    return following if isinstance(following, nn.BatchNorm2d) else None


def taylor_gradients(model, split, batches, batch_size, generator):
    """{conv name: the loss gradient of its weight, summed over `batches` shuffled full batches of `split`}
    (normalised as in training, lib.data.batches; no augmentation; the model in eval mode, under the one
    autocast policy), for the taylor criterion. Gradients are cleared before and after, and the model's mode
    is put back, so the model is left as it was. A split without one full batch is refused; one with fewer
    full batches than asked gives all it has, with a warning."""
    available = len(split["labels"]) // batch_size
    if batches < 1 or not available:
        raise UserError(f"Taylor importance needs at least one full batch of {batch_size} images (asked for "
                        f"{batches} batches; the split has {len(split['labels'])} images): use at least one batch, "
                        "a smaller batch size or more images")
    if available < batches:
        warn(f"Taylor importance asked for {batches} batches of {batch_size}; the split holds {available}: "
             f"using {available}")
    device = split["labels"].device
    was_training = model.training
    model.eval().zero_grad(set_to_none=True)
    layers = models.convs(model)
    with torch.enable_grad():
        drawn = data.batches(split["images"], split["labels"], batch_size, generator, True)
        for x, y in itertools.islice(drawn, batches):
            with autocast(device):
                loss = nn.functional.cross_entropy(model(x.to(device)).float(), y.to(device))
            loss.backward()
    gradients = {name: conv.weight.grad.detach().clone() for name, _, conv in layers}
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return gradients


def _importance(criterion):
    """Torch-Pruning's importance of a conv's output channels for `criterion`, from the conv's own weights
    alone (group_reduction "first": not the batch norm's or the next conv's; no normalizer)."""
    if criterion == "bn_scale":
        return tp.importance.BNScaleImportance(normalizer=None)
    if criterion == "fpgm":
        return tp.importance.FPGMImportance(p=2, group_reduction="first", normalizer=None)
    return tp.importance.MagnitudeImportance(p=1 if criterion == "l1" else 2, group_reduction="first", normalizer=None)


def filter_scores(model, criterion, generator=None, gradients=None):
    """{conv name: 1-D tensor, one importance score per filter} for every conv layer; the lowest are removed
    first. random: uniform draws from `generator` (a seeded torch.Generator), layer by layer in conv order;
    taylor: first-order Taylor importance, the sum over the filter of |w * dL/dw| (Molchanov et al. 2019),
    from `gradients` as taylor_gradients returns them (Torch-Pruning's TaylorImportance, which it equals, reads
    the gradients of every layer in the channel group, the batch norm's and the next layer's too); the others
    Torch-Pruning's importances of each conv's output channels (tests/test_criteria.py checks each against
    its formula written out): l1 and l2, the sum of the filter's |w| and of its w^2 (the L2 norm's order);
    bn_scale, |gamma| of the batch norm after the conv (Network Slimming, Liu et al. 2017); fpgm, the summed
    distance of the filter's |w|^2 to the layer's other filters' (Torch-Pruning's FPGM; He et al. 2019, whose
    filters near the geometric median are the replaceable ones, compare the weights w themselves). The model
    is traced once in eval mode and left as it was."""
    if criterion not in CRITERIA:
        raise UserError(f"unknown filter criterion '{criterion}'; allowed: {', '.join(CRITERIA)}")
    if criterion == "random" and generator is None:
        raise UserError("the random criterion needs a seeded torch.Generator, for reproducible draws")
    if criterion == "taylor" and gradients is None:
        raise UserError("the taylor criterion needs the loss gradients of the conv weights (taylor_gradients)")
    layers = models.convs(model)
    if criterion == "random":
        return {name: torch.rand(conv.out_channels, generator=generator) for name, _, conv in layers}
    if criterion == "taylor":  # Torch-Pruning's TaylorImportance reads the .grad of every layer in the group
        out = {}
        for name, _, conv in layers:
            grad = gradients.get(name)
            if grad is None or grad.shape != conv.weight.shape:
                found = "none" if grad is None else f"shape {tuple(grad.shape)}"
                raise UserError(f"the taylor criterion needs a gradient of {name}'s weight, shape "
                                f"{tuple(conv.weight.shape)}; found {found}: compute the gradients on this model "
                                "(taylor_gradients)")
            out[name] = (conv.weight.detach() * grad.to(conv.weight.device)).abs().sum(dim=(1, 2, 3))
        return out
    for name, index, _ in layers:
        if criterion == "bn_scale" and _bn_after(model, index) is None:
            raise UserError(f"the bn_scale criterion ranks filters by the batch-norm scale after each conv, and "
                            f"{name} has no batch norm after it: this architecture has no batch norm (e.g. arch "
                            "vgg11); use vgg11_bn or another criterion")
    was_training, device = model.training, next(model.parameters()).device
    graph = tp.DependencyGraph().build_dependency(model.eval(), example_inputs=torch.zeros(1, 3, 32, 32, device=device),
                                                  verbose=False)
    importance, scores = _importance(criterion), {}
    for name, _, conv in layers:
        group = graph.get_pruning_group(conv, tp.prune_conv_out_channels, idxs=list(range(conv.out_channels)))
        scores[name] = importance(group).detach()
    model.train(was_training)
    return scores


def criterion_scores(model, criterion, seed, split, batch_size):
    """filter_scores of `model` by `criterion`, as the stages rank filters: random draws from a generator
    seeded with `seed`; taylor's gradients summed over every full batch of `split` (the validation
    split), in batches of `batch_size` or of the whole split if it is smaller."""
    generator, gradients = torch.Generator().manual_seed(seed), None
    if criterion == "taylor":
        size = min(batch_size, len(split["labels"]))
        gradients = taylor_gradients(model, split, len(split["labels"]) // size, size, generator)
    return filter_scores(model, criterion, generator, gradients)


def check_round_to(filters, names, round_to):
    """Refuse a `round_to` larger than a layer's filter count: counts are rounded to its multiples, and such
    a layer has fewer filters than one multiple. (A layer of exactly round_to filters keeps them all.)"""
    short = [f"{name} ({n})" for name, n in zip(names, filters) if n < round_to]
    if short:
        raise UserError(f"{round_to} is larger than the filter count of {', '.join(short)}: filter counts are rounded "
                        f"to multiples of round_to, and such a layer has fewer filters than one multiple; use a "
                        f"round_to of at most {min(filters)} (1 keeps counts exact)")


def kept_count(n, ratio, round_to=1):
    """Filters a layer of `n` keeps when a fraction `ratio` is removed: n - round(ratio * n), then, if
    any is removed, rounded to the nearest multiple of `round_to` (at least `round_to`, at most n)."""
    kept = n - round(ratio * n)
    if round_to > 1 and kept < n:
        kept = min(n, max(round_to, round_to * round(kept / round_to)))
    return kept


def filters_to_keep(model, ratios, round_to=1, scores=None):
    """{conv name: sorted indices of the filters kept} when the lowest-scoring filters of each named conv
    layer are removed, kept_count(filters, ratio, round_to) of them staying. Scores are `scores`
    ({conv name: one per filter}, filter_scores) when given, else the L1 norms; ties keep the later filter.
    Call it with the largest ratios up front to stop a stage before any work."""
    keep = {}
    for name, ratio in ratios.items():
        conv = models.layer(model, name)
        if not isinstance(conv, nn.Conv2d):
            raise UserError(f"structured pruning removes conv filters; {name} is not a conv layer")
        n = conv.out_channels
        removed = round(ratio * n)
        if not 0 <= ratio < 1 or removed >= n:
            raise UserError(f"removing a fraction {ratio} of the {n} filters of {name} would leave "
                            f"{n - removed} filters; use a ratio in [0, 1) that keeps at least one "
                            f"(at most {n - 1} of its {n} filters removed)")
        if scores is None:
            order = torch.argsort(filter_norms(conv), stable=True)
        else:
            if name not in scores or scores[name].shape != (n,):
                found = "none" if name not in scores else f"shape {tuple(scores[name].shape)}"
                raise UserError(f"the filter scores must hold one score per filter of {name} ({n}); found {found}")
            order = torch.argsort(scores[name], stable=True)
        keep[name] = sorted(order[n - kept_count(n, ratio, round_to):].tolist())
    return keep


def mask_filters(model, ratios, scores=None):
    """Zero, in place, the filters filters_to_keep would remove (ranked by `scores` when given): their weights
    and bias, and the following batch norm's weight and bias, so those channels are exactly 0 after
    normalisation."""
    keep = filters_to_keep(model, ratios, scores=scores)
    with torch.no_grad():
        for name, index, conv in models.convs(model):
            if name not in keep:
                continue
            removed = sorted(set(range(conv.out_channels)) - set(keep[name]))
            for module in (conv, _bn_after(model, index)):
                if module is not None:
                    module.weight[removed] = 0
                    module.bias[removed] = 0
    return model


def mask_layer(model, layer, ratio, scores=None):
    """One layer's filters masked in place (mask_filters): the sweep's pruning."""
    return mask_filters(model, {layer: ratio}, scores)


def remove_filters(model, arch, ratios, round_to=1, scores=None):
    """(new model, new arch): a VGG-11 built by models.build with the reduced filter counts (the filters
    filters_to_keep keeps, ranked by `scores` when given), holding
    what remains of `model` (an ordinary one, without pruning masks): the kept filters, biases and
    batch-norm parameters and statistics, the next conv's matching input channels, and the
    classifier's matching input features (a channel is a block of 1 feature in the `cifar` head and
    of 7x7 in the `imagenet` head)."""
    keep = filters_to_keep(model, ratios, round_to=round_to, scores=scores)
    layers = models.convs(model)
    kept = [torch.tensor(keep.get(name, range(conv.out_channels))) for name, _, conv in layers]
    new_arch = {**arch, "filters": [len(k) for k in kept]}

    slices = {}  # state_dict key -> [(dim, indices kept along it)]
    for k, (_, index, _) in enumerate(layers):
        slices[f"features.{index}.weight"] = [(0, kept[k])] + ([(1, kept[k - 1])] if k else [])
        slices[f"features.{index}.bias"] = [(0, kept[k])]
        if _bn_after(model, index) is not None:
            for p in ("weight", "bias", "running_mean", "running_var"):
                slices[f"features.{index + 1}.{p}"] = [(0, kept[k])]
    _, first, fc = models.linears(model)[0]
    block = fc.in_features // layers[-1][2].out_channels  # input features per channel: 1 or 7*7
    columns = (kept[-1][:, None] * block + torch.arange(block)).flatten()
    slices[f"classifier.{first}.weight"] = [(1, columns)]

    state = {}
    for key, t in model.state_dict().items():
        for dim, idx in slices.get(key, []):
            t = t.index_select(dim, idx.to(t.device))
        state[key] = t if key in slices else t.clone()  # its own tensors, none shared with `model`
    with torch.device("meta"):  # no initialisation to pay for: every tensor comes from `model`, on its device
        new = models.build(new_arch, initialise=False)
    new.load_state_dict(state, assign=True)
    return new.train(model.training), new_arch


def smaller(model, arch, ratios, round_to, scores, recalibration):
    """remove_filters, then the smaller model's batch-norm statistics re-estimated (lib.batchnorm,
    `recalibration`): a structured model as it is measured one-shot, and as its recovery starts."""
    small, new_arch = remove_filters(model, arch, ratios, round_to, scores)
    return recalibrate_batchnorm(small, recalibration), new_arch
