"""lib.batchnorm: recalibration against a direct computation of the statistics it should find."""
import copy

import pytest
import torch

from conftest import make_split
from lib.batchnorm import Recalibration, recalibrate_batchnorm
from lib.data import batches
from lib.errors import UserError


def bn_only_model():
    """The identity followed by one batch norm: its running statistics are those of the input images."""
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(3))
    model[0].momentum = 0.3  # not torchvision's 0.1: recalibration must put each layer's own value back
    return model


def test_recalibration_averages_the_batches_and_keeps_each_momentum():
    """Checked against a direct computation: the running mean after recalibrating on k batches is the
    mean of the k batches' channel means, in the order the shuffled batches come."""
    split = make_split(40)
    model = bn_only_model()
    recalibrate_batchnorm(model, Recalibration(split, 3, 8, seed=5))
    shuffled = batches(split["images"], split["labels"], 8, torch.Generator().manual_seed(5), True)
    expected = torch.stack([x.mean((0, 2, 3)) for x, _ in list(shuffled)[:3]])
    assert torch.allclose(model[0].running_mean, expected.mean(0), atol=1e-6)
    assert model[0].num_batches_tracked == 3 and model[0].momentum == 0.3 and not model.training


def test_recalibration_refuses_a_split_without_one_full_batch():
    model = bn_only_model()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(UserError, match="needs at least one full batch of 128 training images; the training split "
                                        "has 50"):
        recalibrate_batchnorm(model, Recalibration(make_split(50), 2, 128, seed=0))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # statistics untouched


def test_recalibration_with_fewer_batches_than_asked_uses_all_and_says_so():
    model = bn_only_model()
    with pytest.warns(UserWarning, match="asked for 10 batches of 16; the training split holds 2: using 2") as said:
        recalibrate_batchnorm(model, Recalibration(make_split(40), 10, 16, seed=0))
    assert said[0].filename == __file__  # attributed to the caller, not to torch's or the library's code
    assert model[0].num_batches_tracked == 2
