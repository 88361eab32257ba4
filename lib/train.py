"""Training and evaluation loops (plain functions, kuangliu/pytorch-cifar style), and what they follow: the
baseline's recipe (Recipe: the `finetune` section of params.yaml) and the recovery's (Recovery: the
`recovery` section), put together for one run of fit() as a Training (its learning-rate schedule, possibly
the baseline's replayed, and a teacher to distil from).

Batches are cut from uint8 tensors already on the device (a split's device is where its work runs),
normalised and augmented as tensors, in the precision and memory format the stage chose
(lib.precision). Accuracies are in percent."""
import dataclasses
from typing import NamedTuple

import torch
from torch import nn
from tqdm import tqdm

from lib import config, precision
from lib.config import setting
from lib.data import batches, check_batch_size
from lib.errors import Diverged, UserError
from lib.precision import autocast


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A training recipe: what fit() does."""
    epochs: int = setting(config.positive_int)
    batch_size: int = setting(config.training_batch)
    lr: float = setting(config.positive_number)
    momentum: float = setting(config.non_negative_number)
    weight_decay: float = setting(config.non_negative_number)
    schedule: str = setting(config.choice("onecycle", "cosine"))
    augment: bool = setting(config.boolean)
    label_smoothing: float = setting(config.fraction)


BASELINE_RECIPE = config.part(Recipe, *(f.name for f in dataclasses.fields(Recipe)))  # finetune's, as others read it


@dataclasses.dataclass(frozen=True)
class Recovery:
    """How every pruned variant and its same-budget controls train after pruning: epochs, learning rate and
    schedule (rewind: the baseline's replayed over its last `epochs` epochs), and knowledge distillation
    from the baseline (a weight, 0 = off, and a temperature; the scratch control too where distill_scratch)."""
    epochs: int = setting(config.positive_int)
    lr: float = setting(config.positive_number)
    schedule: str = setting(config.choice("cosine", "onecycle", "rewind"))
    distill_weight: float = setting(config.weight)
    distill_temperature: float = setting(config.positive_number)
    distill_scratch: bool = setting(config.boolean)


class Teacher(NamedTuple):
    """Knowledge distillation (Hinton et al. 2015): the loss is (1 - weight) x cross-entropy + weight x
    temperature^2 x KL(teacher's softened outputs || the student's), the teacher in eval mode on the same
    (augmented) batch."""
    model: nn.Module
    weight: float
    temperature: float


@dataclasses.dataclass(frozen=True)
class Training:
    """What one fit() does: a recipe (its schedule at its peak lr over its epochs); with `rewind`, instead
    the learning rates of that recipe's (the baseline's) schedule over its last recipe.epochs epochs
    (learning-rate rewinding, Renda et al. 2020); with a `teacher`, distillation."""
    recipe: Recipe
    rewind: Recipe = None
    teacher: Teacher = None


def recipe(base, **changes):
    """A Recipe: `base`'s values (a Recipe or a part of one, the baseline's) with `changes`: the one way a
    recovery or control recipe is derived from the baseline's."""
    return Recipe(**{f.name: changes[f.name] if f.name in changes else getattr(base, f.name)
                     for f in dataclasses.fields(Recipe)})


def recovery(base, rec, teacher=None):
    """The Training of a recovery (Recovery `rec`) after the baseline's Recipe `base`: base's batch size,
    momentum, weight decay, augmentation and label smoothing; rec's epochs and schedule (rewind: base's
    schedule and peak learning rate, from base.epochs - rec.epochs on); distillation from `teacher` (the
    baseline model) when rec.distill_weight > 0."""
    if rec.schedule == "rewind" and rec.epochs > base.epochs:
        raise UserError(f"learning-rate rewinding replays the last epochs of the baseline's {base.epochs}: a "
                        f"recovery of {rec.epochs} epochs cannot rewind that far; use at most {base.epochs} or "
                        "another schedule")
    rewind = rec.schedule == "rewind"
    hp = recipe(base, epochs=rec.epochs, lr=base.lr if rewind else rec.lr, schedule=base.schedule if rewind
                else rec.schedule)
    distil = teacher is not None and rec.distill_weight > 0
    return Training(hp, base if rewind else None,
                    Teacher(teacher.eval(), rec.distill_weight, rec.distill_temperature) if distil else None)


def train_epoch(model, split, optimizer, scheduler, generator, training):
    """One pass over `split` in shuffled batches of the recipe's batch size (the last partial batch is
    dropped so batch norm never sees a batch of one), augmented if the recipe says so, minimising
    cross-entropy against targets smoothed by its label_smoothing (Szegedy et al. 2016; 0: the labels
    themselves), distilled from the Training's teacher if it has one; returns {"loss", "accuracy"}, the loss
    the one minimised. A loss that is not finite stops training with lib.errors.Diverged at the epoch's
    end (a flag kept on the device: no host synchronisation per step)."""
    model.train()
    hp, teacher, device = training.recipe, training.teacher, split["labels"].device
    loss_fn = nn.CrossEntropyLoss(label_smoothing=hp.label_smoothing)
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    first_bad = torch.full((), -1, device=device, dtype=torch.long)  # the first step whose loss is not finite
    seen = 0
    steps = len(split["labels"]) // hp.batch_size
    for step, (x, y) in enumerate(tqdm(batches(split["images"], split["labels"], hp.batch_size, generator, True,
                                               hp.augment), total=steps, desc="batches", leave=False, disable=None)):
        with autocast(device):
            out = model(precision.batch(x, device))
            loss = loss_fn(out, y)
            if teacher is not None:
                loss = (1 - teacher.weight) * loss + teacher.weight * _distillation(out, x, teacher, device)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total_loss += loss.detach() * len(y)  # accumulate on the device: no sync per batch
        correct += (out.argmax(1) == y).sum()
        first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), step, first_bad)
        seen += len(y)
    if first_bad.item() >= 0:  # read once per epoch
        raise Diverged(f"the training loss is not finite (NaN or infinite) from step {first_bad.item() + 1} of "
                       f"{steps} of this epoch on: training diverged; the learning rate ({hp.lr:g}) is likely "
                       "too high for this recipe")
    return {"loss": total_loss.item() / seen, "accuracy": 100 * correct.item() / seen}


def _distillation(out, x, teacher, device):
    """temperature^2 x KL(softmax(teacher / T) || softmax(student / T)), the batch mean, in fp32."""
    with torch.no_grad():
        target = teacher.model(precision.batch(x, device)).float()
    t = teacher.temperature
    return nn.functional.kl_div(nn.functional.log_softmax(out.float() / t, 1), nn.functional.log_softmax(target / t, 1),
                                reduction="batchmean", log_target=True) * t * t


def _schedule(optimizer, kind, lr, steps):
    if kind == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)


def learning_rates(kind, lr, steps):
    """The learning rate of each of `steps` steps of a schedule (onecycle or cosine) peaking at `lr`."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler, out = _schedule(optimizer, kind, lr, steps), []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradient: nothing moves
        scheduler.step()
    return out


def scheduler(optimizer, training, steps_per_epoch):
    """The learning-rate scheduler of a Training, stepped once per batch."""
    hp, base = training.recipe, training.rewind
    if base is None:
        return _schedule(optimizer, hp.schedule, hp.lr, hp.epochs * steps_per_epoch)
    rates = learning_rates(base.schedule, base.lr, base.epochs * steps_per_epoch)[-hp.epochs * steps_per_epoch:]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: rates[min(step, len(rates) - 1)] / hp.lr)


@torch.inference_mode()
def score(forward, batches, device):
    """{"loss", "accuracy"} of forward(x) over (x, labels) batches: the project's one evaluation, used by
    training, the sweeps and measurement alike (in the precision in use, lib.precision; loss and accuracy
    accumulated in fp32 on the device). Put the model in eval mode first."""
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    n = 0
    for x, y in batches:
        with autocast(device):
            out = forward(precision.batch(x, device)).float()
        total_loss += nn.functional.cross_entropy(out, y, reduction="sum")
        correct += (out.argmax(1) == y).sum()
        n += len(y)
    return {"loss": total_loss.item() / n, "accuracy": 100 * correct.item() / n}


def evaluate(model, split, batch_size):
    """{"loss", "accuracy"} of `model` on `split` (eval mode, no gradients), on the split's device."""
    return score(model.eval(), batches(split["images"], split["labels"], batch_size), split["labels"].device)


def fit(model, data, training, seed, eval_batch_size, live_dir=None):
    """SGD (momentum, weight decay) on data["train"] as the Training `training` says (a Recipe alone: its
    own schedule); each epoch ends with an evaluation on data["val"] in batches of
    `eval_batch_size`. With `live_dir`, the per-epoch metrics are logged there with dvclive
    (train/loss.tsv, val/accuracy.tsv, ...). Returns the list of per-epoch metrics. Batch order and
    augmentation come from a generator seeded with `seed`, dropout (the imagenet head) from the global RNG,
    seeded here too."""
    training = training if isinstance(training, Training) else Training(training)
    hp = training.recipe
    torch.manual_seed(seed)
    train, val = data["train"], data["val"]
    check_batch_size(hp.batch_size, train)
    optimizer = torch.optim.SGD(model.parameters(), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay,
                                nesterov=hp.momentum > 0)
    lr_schedule = scheduler(optimizer, training, len(train["labels"]) // hp.batch_size)
    generator = torch.Generator().manual_seed(seed)
    history, live = [], None
    for epoch in (bar := tqdm(range(hp.epochs), desc="epochs", disable=None)):  # disable=None: off a terminal
        try:
            trained = train_epoch(model, train, optimizer, lr_schedule, generator, training)
        except Diverged as err:
            raise Diverged(f"epoch {epoch + 1} of {hp.epochs}: {err}") from err
        metrics = {f"train_{k}": v for k, v in trained.items()}
        metrics.update({f"val_{k}": v for k, v in evaluate(model, val, eval_batch_size).items()})
        history.append(metrics)
        bar.set_postfix(loss=f"{metrics['train_loss']:.3f}", val_acc=f"{metrics['val_accuracy']:.2f}")
        if bar.disable:  # a log file (CI, dvc exp run > log): one line per epoch instead of redraws
            print(f"epoch {epoch + 1}/{hp.epochs}: loss {metrics['train_loss']:.3f}, "
                  f"validation accuracy {metrics['val_accuracy']:.2f}%", flush=True)
        if live_dir and live is None:  # after the first epoch trained: a run that diverges writes no curves
            from dvclive import Live  # only the stages that log curves pay for its import
            live = Live(live_dir, save_dvc_exp=False, dvcyaml=None)
        if live:
            for key, value in metrics.items():
                live.log_metric(key.replace("_", "/", 1), value)  # train_loss -> train/loss
            live.next_step()
    if live:
        live.end()
    return history
