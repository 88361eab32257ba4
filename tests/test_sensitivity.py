import pytest
import torch
from torch import nn

from benchmarks.naive_sweep import naive_sweep
from lib import models
from lib.pruning import allocation, sensitivity
from lib.pruning.structured import mask_filters
from lib.pruning.unstructured import apply_unstructured
from lib.batchnorm import Recalibration
from lib.errors import UserError, param

LEVELS = [0.3, 0.6, 0.9]


def unstructured(model, layer, level):
    apply_unstructured(model, {layer: level})


def structured(model, layer, level):
    mask_filters(model, {layer: level})


@pytest.fixture(scope="module")
def setup():
    """A small random vgg11_bn with random batch-norm statistics, and 40 random images (batches of
    16, so the last one is partial)."""
    torch.manual_seed(0)
    model = models.build(models.architecture("vgg11_bn", "cifar", filters=[8, 8, 16, 16, 16, 16, 16, 16]))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.bias.normal_(0, 0.3)
    images = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (40,))
    return model.train(), images, labels  # train mode: the sweep must evaluate in eval mode anyway


def run(which, setup, layers, prune, recalibration=None):
    model, images, labels = setup
    return which(model, {layer: LEVELS for layer in layers}, prune, {"images": images, "labels": labels}, 16,
                 recalibration)


def assert_same(a, b):
    assert a["baseline"] == pytest.approx(b["baseline"], rel=1e-5)
    assert [(r["layer"], r["level"]) for r in a["records"]] == [(r["layer"], r["level"]) for r in b["records"]]
    for x, y in zip(a["records"], b["records"]):
        assert set(x) == set(y)
        for key in [k for k in x if k.startswith("accuracy")]:
            assert x[key] == pytest.approx(y[key], abs=1e-9), key
        for key in [k for k in x if k.startswith("loss")]:
            assert x[key] == pytest.approx(y[key], rel=1e-5), key


@pytest.mark.parametrize("prune, layers", [
    (unstructured, ["conv1", "conv5", "conv2", "conv8", "fc1"]),  # any order, a linear layer too
    (structured, [f"conv{k}" for k in range(1, 9)]),
])
def test_cached_sweep_equals_naive_sweep(setup, prune, layers):
    cached = run(sensitivity.sweep, setup, layers, prune)
    assert_same(cached, run(naive_sweep, setup, layers, prune))
    assert len(cached["records"]) == len(layers) * len(LEVELS)
    assert all(0 <= r["accuracy"] <= 100 for r in cached["records"])
    assert len({r["loss"] for r in cached["records"]}) > 1  # pruning changed the outputs


@pytest.mark.parametrize("prune, layers", [
    (unstructured, ["conv1", "conv5", "conv2", "conv8", "fc1"]),
    (structured, [f"conv{k}" for k in range(1, 9)]),
])
def test_a_recalibrated_sweep_equals_whole_models_recalibrated(setup, prune, layers):
    """With batch-norm recalibration, each cached level scores what recalibrating the whole pruned copy
    (lib.batchnorm.recalibrate_batchnorm on the same training batches) and evaluating it gives, and the
    score before it."""
    train = {"images": torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8,
                                     generator=torch.Generator().manual_seed(1)), "labels": torch.arange(64) % 10}
    how = Recalibration(train, 3, 16, seed=0)
    cached = run(sensitivity.sweep, setup, layers, prune, how)
    assert_same(cached, run(naive_sweep, setup, layers, prune, how))
    assert any(r["loss"] != r["loss_before_recalibration"] for r in cached["records"])


def test_sweep_never_mutates_the_baseline(setup):
    model = setup[0]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run(sensitivity.sweep, setup, ["conv1", "conv3", "fc1"], unstructured)
    run(sensitivity.sweep, setup, ["conv2", "conv4"], structured)
    after = model.state_dict()
    assert set(after) == set(before)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training and not any(hasattr(m, "weight_orig") for m in model.modules())


def test_sweep_rejects_an_unknown_layer(setup):
    with pytest.raises(UserError, match="conv12"):
        run(sensitivity.sweep, setup, ["conv12"], unstructured)


def test_choose_levels_on_a_known_table():
    table = {"conv1": {0.5: 89.5, 0.7: 89.0, 0.9: 80.0},  # 0.7 drops exactly the budget
             "conv2": {0.5: 85.0, 0.7: 70.0, 0.9: 50.0},  # nothing qualifies
             "conv3": {0.5: 88.0, 0.7: 89.5, 0.9: 10.0},  # not monotonic: the largest within wins
             "conv4": {0.5: 90.2, 0.7: 90.0, 0.9: 89.9}}  # everything qualifies
    results = {"baseline": {"accuracy": 90.0, "loss": 0.3},
               "records": [{"layer": name, "level": s, "accuracy": a, "loss": 1.0}
                           for name, row in table.items() for s, a in row.items()]}
    assert allocation.choose_levels(results, 1.0) == {"conv1": 0.7, "conv2": 0.0, "conv3": 0.7, "conv4": 0.9}
    assert allocation.choose_levels(results, 0.0) == {"conv1": 0.0, "conv2": 0.0, "conv3": 0.0, "conv4": 0.7}
    assert allocation.choose_levels(results, 100.0) == {name: 0.9 for name in table}


def test_choose_levels_tolerates_float_rounding_of_percentages():
    results = {"baseline": {"accuracy": 100 * 3202 / 5000, "loss": 0.0},  # 64.04 - 63.04 = 1.000000000000007
               "records": [{"layer": "conv1", "level": 0.5, "accuracy": 100 * 3152 / 5000, "loss": 0.0}]}
    assert allocation.choose_levels(results, 1.0) == {"conv1": 0.5}


def test_explicit_and_auto_levels_and_an_unknown_layer():
    results = {"baseline": {"accuracy": 90.0, "loss": 0.3},
               "records": [{"layer": "conv1", "level": 0.5, "accuracy": 89.5, "loss": 0.3},
                           {"layer": "conv1", "level": 0.9, "accuracy": 70.0, "loss": 0.9},
                           {"layer": "conv2", "level": 0.5, "accuracy": 80.0, "loss": 0.6},
                           {"layer": "conv2", "level": 0.9, "accuracy": 60.0, "loss": 1.0}]}
    layers = ["conv1", "conv2", "conv3"]
    assert allocation.choose_levels(results, 1.0) == {"conv1": 0.5, "conv2": 0.0}  # what `auto` gives
    expected = {"conv1": 0.0, "conv2": 0.7, "conv3": 0.0}
    assert allocation.explicit({"conv2": 0.7}, layers) == expected
    with pytest.raises(UserError, match=r"^params.yaml: structured_prune\.ratios: unknown layer 'conv9'"), \
            param("structured_prune.ratios"):  # as the prune stages call it
        allocation.explicit({"conv9": 0.5}, layers)


def test_a_short_recalibration_inside_the_sweep_warns_at_the_caller(setup):
    """A recalibration asking for more batches than the split holds warns once per sweep, attributed to the
    code that called the sweep (this file), not to lib's frames or torch.no_grad's wrapper around them."""
    train = {"images": torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8), "labels": torch.arange(32) % 10}
    with pytest.warns(UserWarning, match="asked for 5 batches of 16; the training split holds 2: using 2") as said:
        run(sensitivity.sweep, setup, ["conv2"], unstructured, Recalibration(train, 5, 16, seed=0))
    assert {w.filename for w in said} == {__file__}
