"""Training and evaluation loops (plain functions, kuangliu/pytorch-cifar style), and the training recipe
they follow (Recipe: the `finetune` and `structured_finetune` sections of params.yaml).

Batches are cut from uint8 tensors already on the device (a split's device is where its work runs),
normalised and augmented as tensors, in the precision and memory format the stage chose
(lib.precision). Accuracies are in percent."""
import dataclasses

import torch
from torch import nn
from tqdm import tqdm

from lib import config, precision
from lib.config import setting
from lib.data import batches, check_batch_size
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


# The keys of the baseline's recipe (finetune) a recovery or control keeps; it sets its own epochs, lr and
# schedule (recipe()).
RECOVERY_FROM_FINETUNE = config.part(Recipe, "batch_size", "momentum", "weight_decay", "augment", "label_smoothing")


def recipe(base, **changes):
    """A Recipe: `base`'s values (a Recipe or a part of one, the baseline's) with `changes`: the one way a
    recovery or control recipe is derived from the baseline's."""
    return Recipe(**{f.name: changes[f.name] if f.name in changes else getattr(base, f.name)
                     for f in dataclasses.fields(Recipe)})


def train_epoch(model, split, optimizer, scheduler, generator, hp):
    """One pass over `split` in shuffled batches of hp.batch_size (the last partial batch is dropped so
    batch norm never sees a batch of one), augmented if hp.augment, minimising cross-entropy against targets
    smoothed by hp.label_smoothing (Szegedy et al. 2016; 0: the labels themselves); returns {"loss",
    "accuracy"}, the loss the one minimised."""
    model.train()
    device = split["labels"].device
    loss_fn = nn.CrossEntropyLoss(label_smoothing=hp.label_smoothing)
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    steps = len(split["labels"]) // hp.batch_size
    for x, y in tqdm(batches(split["images"], split["labels"], hp.batch_size, generator, True, hp.augment),
                     total=steps, desc="batches", leave=False, disable=None):
        with autocast(device):
            out = model(precision.batch(x, device))
            loss = loss_fn(out, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total_loss += loss.detach() * len(y)  # accumulate on the device: no sync per batch
        correct += (out.argmax(1) == y).sum()
        seen += len(y)
    return {"loss": total_loss.item() / seen, "accuracy": 100 * correct.item() / seen}


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


def fit(model, data, hp, seed, eval_batch_size, live_dir=None):
    """SGD (momentum, weight decay) on data["train"] with a one-cycle or cosine schedule for hp.epochs
    epochs of the Recipe `hp`; each epoch ends with an evaluation on data["val"] in batches of
    `eval_batch_size` (measure.batch_size). With `live_dir`, the per-epoch metrics are logged there with
    dvclive (train/loss.tsv, val/accuracy.tsv, ...). Returns the list of per-epoch metrics. Batch order and
    augmentation come from a generator seeded with `seed`, dropout (the imagenet head) from the global RNG,
    seeded here too."""
    torch.manual_seed(seed)
    train, val = data["train"], data["val"]
    check_batch_size(hp.batch_size, train)
    steps = hp.epochs * (len(train["labels"]) // hp.batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay,
                                nesterov=hp.momentum > 0)
    if hp.schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=hp.lr, total_steps=steps)
    else:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    generator = torch.Generator().manual_seed(seed)
    history = []
    live = None
    if live_dir:
        from dvclive import Live  # only the stages that log curves pay for its import
        live = Live(live_dir, save_dvc_exp=False, dvcyaml=None)
    for epoch in (bar := tqdm(range(hp.epochs), desc="epochs", disable=None)):  # disable=None: off a terminal
        trained = train_epoch(model, train, optimizer, scheduler, generator, hp)
        metrics = {f"train_{k}": v for k, v in trained.items()}
        metrics.update({f"val_{k}": v for k, v in evaluate(model, val, eval_batch_size).items()})
        history.append(metrics)
        bar.set_postfix(loss=f"{metrics['train_loss']:.3f}", val_acc=f"{metrics['val_accuracy']:.2f}")
        if bar.disable:  # a log file (CI, dvc exp run > log): one line per epoch instead of redraws
            print(f"epoch {epoch + 1}/{hp.epochs}: loss {metrics['train_loss']:.3f}, "
                  f"validation accuracy {metrics['val_accuracy']:.2f}%", flush=True)
        if live:
            for key, value in metrics.items():
                live.log_metric(key.replace("_", "/", 1), value)  # train_loss -> train/loss
            live.next_step()
    if live:
        live.end()
    return history
