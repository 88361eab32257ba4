"""What deterministic algorithms cost, and what PyTorch's NaN fill of uninitialised memory adds to them
(torch.utils.deterministic.fill_uninitialized_memory, on by default under deterministic algorithms;
lib.runtime turns it off), on lib.train's training loop, interleaved, in one process.

    python -m benchmarks.bench_determinism --images 2048 --rounds 5

Settings: deterministic with the NaN fill (PyTorch's default), deterministic without it (the
project's `deterministic: true`), and non-deterministic (`deterministic: false`). Prints training
images/s, median [min - max] over rounds, and each setting over the first."""
import argparse
import statistics
import time

import torch

from lib import models, precision
from lib.train import Recipe, Training, train_epoch

SETTINGS = {"deterministic + NaN fill": (True, True), "deterministic": (True, False),
            "not deterministic": (False, False)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    precision.use(precision.choose(args.precision, device))
    torch.manual_seed(0)
    split = {"images": torch.randint(0, 256, (args.images, 3, 32, 32), dtype=torch.uint8, device=device),
             "labels": torch.randint(0, 10, (args.images,), device=device)}
    model = models.build(models.architecture("vgg11_bn", "cifar")).to(device)
    hp = Recipe(epochs=1, batch_size=args.batch_size, lr=1e-3, momentum=0.9, weight_decay=5e-4, schedule="cosine",
                augment=True, label_smoothing=0.0)  # what train_epoch reads: batch size, augmentation
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    rates = {name: [] for name in SETTINGS}
    for r in range(args.rounds + 1):  # round 0 warms up
        for name, (deterministic, fill) in SETTINGS.items():
            torch.use_deterministic_algorithms(deterministic, warn_only=True)
            torch.utils.deterministic.fill_uninitialized_memory = fill
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            train_epoch(model, split, opt, sched, torch.Generator().manual_seed(0), Training(hp))
            if device.type == "cuda":
                torch.cuda.synchronize()
            if r:
                rates[name].append(args.images // args.batch_size * args.batch_size / (time.perf_counter() - start))
    first = statistics.median(rates[next(iter(SETTINGS))])
    print(f"vgg11_bn, {args.images} images, batch {args.batch_size}, {precision.current(device)}, device {device}, "
          f"{torch.get_num_threads()} threads, {args.rounds} interleaved rounds")
    for name, values in rates.items():
        print(f"{name:26s} {statistics.median(values):8.0f} img/s [{min(values):6.0f} - {max(values):6.0f}]  "
              f"{statistics.median(values) / first:.3f}x")


if __name__ == "__main__":
    main()
