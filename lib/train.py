"""Training and evaluation loops (plain functions, kuangliu/pytorch-cifar style).

Batches are cut from uint8 tensors already on the device, normalised and augmented as tensors, in
the precision and memory format the stage chose (lib.precision). Accuracies are in percent."""
import torch
from torch import nn
from dvclive import Live
from tqdm import tqdm

from lib import precision
from lib.data import batches, check_batch_size
from lib.precision import autocast


def train_epoch(model, split, optimizer, scheduler, batch_size, generator, device, use_augment=True,
                label_smoothing=0.0):
    """One pass over `split` in shuffled batches (the last partial batch is dropped so batch norm
    never sees a batch of one), minimising cross-entropy against targets smoothed by `label_smoothing`
    (Szegedy et al. 2016; 0: the labels themselves); returns {"loss", "accuracy"}, the loss the one
    minimised."""
    model.train()
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    steps = len(split["labels"]) // batch_size
    for x, y in tqdm(batches(split["images"], split["labels"], batch_size, generator, True, use_augment),
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


def evaluate(model, split, batch_size, device):
    """{"loss", "accuracy"} of `model` on `split` (eval mode, no gradients)."""
    return score(model.eval(), batches(split["images"], split["labels"], batch_size), device)


def fit(model, train, val, hp, device, seed, eval_batch_size, live_dir=None):
    """SGD (momentum, weight decay) with a one-cycle or cosine schedule for hp["epochs"] epochs.
    `hp` holds epochs, batch_size, lr, momentum, weight_decay, schedule, augment, label_smoothing
    (lib.config.RECIPE); each epoch ends with an evaluation on `val` in batches of `eval_batch_size`
    (measure.batch_size). With `live_dir`,
    the per-epoch metrics are logged there with dvclive (train/loss.tsv, val/accuracy.tsv, ...).
    Returns the list of per-epoch metrics. Batch order and augmentation come from a generator seeded
    with `seed`, dropout (the imagenet head) from the global RNG, seeded here too."""
    torch.manual_seed(seed)
    batch_size = hp["batch_size"]
    check_batch_size(batch_size, train)
    steps = hp["epochs"] * (len(train["labels"]) // batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=hp["lr"], momentum=hp["momentum"],
                                weight_decay=hp["weight_decay"], nesterov=hp["momentum"] > 0)
    if hp["schedule"] == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=hp["lr"], total_steps=steps)
    else:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    generator = torch.Generator().manual_seed(seed)
    history = []
    live = Live(live_dir, save_dvc_exp=False, dvcyaml=None) if live_dir else None
    for epoch in (bar := tqdm(range(hp["epochs"]), desc="epochs", disable=None)):  # disable=None: off a terminal
        trained = train_epoch(model, train, optimizer, scheduler, batch_size, generator, device, hp["augment"],
                              hp["label_smoothing"])
        metrics = {f"train_{k}": v for k, v in trained.items()}
        metrics.update({f"val_{k}": v for k, v in evaluate(model, val, eval_batch_size, device).items()})
        history.append(metrics)
        bar.set_postfix(loss=f"{metrics['train_loss']:.3f}", val_acc=f"{metrics['val_accuracy']:.2f}")
        if bar.disable:  # a log file (CI, dvc exp run > log): one line per epoch instead of redraws
            print(f"epoch {epoch + 1}/{hp['epochs']}: loss {metrics['train_loss']:.3f}, "
                  f"validation accuracy {metrics['val_accuracy']:.2f}%", flush=True)
        if live:
            for key, value in metrics.items():
                live.log_metric(key.replace("_", "/", 1), value)  # train_loss -> train/loss
            live.next_step()
    if live:
        live.end()
    return history
