import copy
import dataclasses

import pytest
import torch

from lib import models, train
from lib.data import normalize
from conftest import make_split
from lib.errors import UserError

HP = {"epochs": 3, "batch_size": 16, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4,
      "schedule": "onecycle", "augment": False, "label_smoothing": 0.0}


def recipe(**changes):
    return train.Recipe(**{**HP, **changes})


def test_fit_learns_a_learnable_task(small_arch, tmp_path):
    """Class = which image quadrant is bright: a few epochs must beat chance clearly."""
    torch.manual_seed(0)
    split = make_split(128, classes=4)
    split["images"] //= 4
    for i, c in enumerate(split["labels"].tolist()):
        split["images"][i, :, (c // 2) * 16:(c // 2) * 16 + 16, (c % 2) * 16:(c % 2) * 16 + 16] = 255
    model = models.build({**small_arch, "num_classes": 4})
    history = train.fit(model, {"train": split, "val": split}, recipe(epochs=6), 0, 64, str(tmp_path / "live"))
    assert len(history) == 6
    logged = (tmp_path / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    assert logged[0].split("\t") == ["step", "loss"] and len(logged) == 7  # header + one row per epoch
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert train.evaluate(model, split, 64)["accuracy"] > 60


def test_fit_is_deterministic_for_a_seed(small_arch):
    split = make_split(64)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = models.build(small_arch)
        train.fit(model, {"train": split, "val": split}, recipe(epochs=1, augment=True, schedule="cosine"), 7, 64)
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_the_epoch_loss_is_the_smoothed_cross_entropy(small_arch, smoothing):
    """One batch, learning rate 0: the loss train_epoch reports (the one it minimises) equals the
    smoothed cross-entropy written out, -sum((1 - s) one_hot + s / K) log softmax, on the model's
    training-mode outputs for the same images."""
    split = make_split(32)
    torch.manual_seed(0)
    model = models.build(small_arch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    got = train.train_epoch(model, split, optimizer, scheduler, torch.Generator().manual_seed(0),
                            train.Training(recipe(batch_size=32, label_smoothing=smoothing)))["loss"]
    with torch.no_grad():
        log_p = torch.log_softmax(model.train()(normalize(split["images"])), 1)
    target = (1 - smoothing) * torch.nn.functional.one_hot(split["labels"], 10) + smoothing / 10
    assert got == pytest.approx(float(-(target * log_p).sum(1).mean()), rel=1e-5)


def test_evaluate_matches_a_plain_forward(small_arch):
    split = make_split(50)
    model = models.build(small_arch).eval()
    result = train.evaluate(copy.deepcopy(model), split, 16)
    with torch.no_grad():
        out = model(normalize(split["images"]))
    expected_acc = 100 * (out.argmax(1) == split["labels"]).sum().item() / 50
    expected_loss = torch.nn.functional.cross_entropy(out, split["labels"]).item()
    assert abs(result["accuracy"] - expected_acc) < 1e-9
    assert abs(result["loss"] - expected_loss) < 1e-4


def test_fit_refuses_a_batch_larger_than_the_split(small_arch):
    import pytest
    from lib.errors import UserError
    with pytest.raises(UserError, match="a training batch of 100,000 images is larger than the training split "
                                        r"\(64 images\); use at most 64"):
        train.fit(models.build(small_arch), {"train": make_split(64), "val": make_split(64)},
                  recipe(batch_size=100_000), 0, 64)


def test_rewind_replays_the_tail_of_the_baselines_schedule():
    """A recovery with schedule rewind steps through the learning rates the baseline's one-cycle schedule had
    over its last epochs (torch's OneCycleLR stepped here directly), from the baseline's peak."""
    base = recipe(epochs=5, lr=0.2, schedule="onecycle")
    rec = train.Recovery(epochs=2, lr=0.01, schedule="rewind", distill_weight=0.0, distill_temperature=4.0,
                         distill_scratch=False)
    training = train.recovery(base, rec)
    assert training.recipe.epochs == 2 and training.rewind == base and training.teacher is None
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=training.recipe.lr)
    scheduler, got = train.scheduler(optimizer, training, steps_per_epoch=7), []
    for _ in range(14):
        got.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    reference = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
    full, expected = torch.optim.lr_scheduler.OneCycleLR(reference, max_lr=0.2, total_steps=35), []
    for _ in range(35):
        expected.append(reference.param_groups[0]["lr"])
        reference.step()
        full.step()
    assert got == pytest.approx(expected[-14:], rel=1e-12)
    with pytest.raises(UserError, match="cannot rewind that far"):
        train.recovery(base, dataclasses.replace(rec, epochs=6))


@pytest.mark.parametrize("weight", [0.0, 0.5, 1.0])
def test_distillation_loss_is_the_weighted_sum_written_out(small_arch, weight):
    """One batch, learning rate 0: the loss train_epoch minimises with a teacher is (1 - w) CE + w T^2
    KL(softmax(teacher / T) || softmax(student / T)), written out here on the same outputs."""
    split = make_split(32)
    torch.manual_seed(0)
    student, teacher = models.build(small_arch), models.build(small_arch).eval()
    optimizer = torch.optim.SGD(student.parameters(), lr=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    training = train.Training(recipe(batch_size=32), teacher=train.Teacher(teacher, weight, 3.0))
    got = train.train_epoch(student, split, optimizer, scheduler, torch.Generator().manual_seed(0), training)["loss"]
    with torch.no_grad():
        s, t = student.train()(normalize(split["images"])), teacher(normalize(split["images"]))
    p_teacher = torch.softmax(t / 3.0, 1)
    kl = (p_teacher * (torch.log(p_teacher) - torch.log_softmax(s / 3.0, 1))).sum(1).mean() * 9.0
    ce = torch.nn.functional.cross_entropy(s, split["labels"])
    assert got == pytest.approx(float((1 - weight) * ce + weight * kl), rel=1e-5)
