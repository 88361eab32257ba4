"""Throughput of lib.train's loops versus the bare model on the same batches, in one process.

    python -m benchmarks.bench_loops --images 1024 --batch-size 128

Training: train_epoch (batching from uint8, normalise, augment, SGD step, scheduler) versus a bare
loop over pre-normalised float batches (forward + backward + step). Evaluation: evaluate() versus a
bare forward over the same batches. Prints images/s for both and the ratio (target >= 0.90)."""
import argparse
import time

import torch

from lib import models
from lib.data import normalize
from lib.train import evaluate, train_epoch


def timed(fn, repeats):
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--arch", default="vgg11_bn")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    split = {"images": torch.randint(0, 256, (args.images, 3, 32, 32), dtype=torch.uint8, device=device),
             "labels": torch.randint(0, 10, (args.images,), device=device)}
    model = models.build(models.architecture(args.arch, "cifar")).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    bs = args.batch_size
    floats = [(normalize(split["images"][i:i + bs]), split["labels"][i:i + bs]) for i in range(0, args.images, bs)]
    loss_fn = torch.nn.CrossEntropyLoss()

    def bare_train():
        model.train()
        for x, y in floats:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        sync()

    @torch.inference_mode()
    def bare_eval():
        model.eval()
        for x, _ in floats:
            model(x)
        sync()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def ours_train():
        train_epoch(model, split, optimizer, scheduler, bs, torch.Generator().manual_seed(0), device, True)
        sync()

    def ours_eval():
        evaluate(model, split, bs, device)
        sync()

    print(f"{args.arch}, {args.images} images, batch {bs}, device {device}, {torch.get_num_threads()} threads")
    for name, bare, ours in (("train", bare_train, ours_train), ("eval", bare_eval, ours_eval)):
        t_bare, t_ours = timed(bare, args.repeats), timed(ours, args.repeats)
        print(f"{name:5s}  bare {args.images / t_bare:8.1f} img/s   ours {args.images / t_ours:8.1f} img/s   "
              f"ratio ours/bare {t_bare / t_ours:.3f}")


if __name__ == "__main__":
    main()
