"""Throughput of lib.train's loops at each precision, beside the bare model at the same precision, in
one process, interleaved (every round times every setting once, so a busy moment hits all alike).

    python -m benchmarks.bench_loops --images 2048 --rounds 5

Settings: fp32; bf16 autocast (contiguous memory); bf16 autocast + channels_last (what
precision: auto picks on a CPU with bf16 arithmetic and on CUDA). Training: train_epoch (batches cut
from uint8, normalised, augmented; SGD step; scheduler) versus a bare loop over pre-normalised float
batches (forward + backward + step) under the same autocast and memory format. Evaluation:
evaluate() versus a bare forward over the same batches. Prints images/s (median over rounds, and the
range), the loop over the bare model, and each setting's speedup over fp32."""
import argparse
import copy
import statistics
import time

import torch

from lib import models, precision
from lib.data import normalize
from lib.train import Recipe, Training, evaluate, train_epoch

SETTINGS = {"fp32": {"precision": "fp32", "memory_format": "contiguous"},
            "bf16": {"precision": "bf16", "memory_format": "contiguous"},
            "bf16 + channels_last": {"precision": "bf16", "memory_format": "channels_last"}}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=128, help="training batch")
    parser.add_argument("--eval-batch-size", type=int, default=500, help="evaluation batch (measure.batch_size)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--arch", default="vgg11_bn")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    split = {"images": torch.randint(0, 256, (args.images, 3, 32, 32), dtype=torch.uint8, device=device),
             "labels": torch.randint(0, 10, (args.images,), device=device)}
    base = models.build(models.architecture(args.arch, "cifar")).to(device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def make(setting):  # its own model and optimizer, and its batches in its memory format
        precision.use(setting)
        model = copy.deepcopy(base)
        hp = Recipe(epochs=1, batch_size=args.batch_size, lr=1e-3, momentum=0.9, weight_decay=5e-4, schedule="cosine",
                    augment=True, label_smoothing=0.0)  # what train_epoch reads: batch size, augmentation
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True, weight_decay=5e-4)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)

        def floats(bs):
            return [(precision.batch(normalize(split["images"][i:i + bs]), device), split["labels"][i:i + bs])
                    for i in range(0, args.images - bs + 1, bs)]
        train_batches, eval_batches = floats(args.batch_size), floats(args.eval_batch_size)

        def bare_train():
            model.train()
            for x, y in train_batches:
                with precision.autocast(device):
                    loss = loss_fn(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

        @torch.inference_mode()
        def bare_eval():
            model.eval()
            for x, _ in eval_batches:
                with precision.autocast(device):
                    model(x).float()

        def ours_train():
            train_epoch(model, split, opt, sched, torch.Generator().manual_seed(0), Training(hp))

        def ours_eval():
            evaluate(model, split, args.eval_batch_size)

        trained = len(train_batches) * args.batch_size  # full batches only, as train_epoch
        return {("train", "bare"): (bare_train, trained), ("train", "loop"): (ours_train, trained),
                ("eval", "bare"): (bare_eval, args.images), ("eval", "loop"): (ours_eval, args.images)}

    runs = {name: make(setting) for name, setting in SETTINGS.items()}
    rates = {(name, key): [] for name, fns in runs.items() for key in fns}
    for r in range(args.rounds + 1):  # round 0 warms up every setting (oneDNN builds its kernels)
        for name, fns in runs.items():
            precision.use(SETTINGS[name])
            for key, (fn, images) in fns.items():
                sync()
                start = time.perf_counter()
                fn()
                sync()
                if r:
                    rates[name, key].append(images / (time.perf_counter() - start))

    print(f"{args.arch}, {args.images} images, train batch {args.batch_size}, eval batch {args.eval_batch_size}, "
          f"device {device}, {torch.get_num_threads()} threads, {args.rounds} interleaved rounds; "
          "images/s: median [min - max]")
    median = {key: statistics.median(values) for key, values in rates.items()}
    print(f"{'setting':22s} {'loop':5s} {'ours':>24s} {'bare model':>24s} {'ours/bare':>9s} {'vs fp32 loop':>12s}")
    for name in SETTINGS:
        for loop in ("train", "eval"):
            ours, bare = rates[name, (loop, "loop")], rates[name, (loop, "bare")]
            print(f"{name:22s} {loop:5s} {median[name, (loop, 'loop')]:8.0f} [{min(ours):6.0f} - {max(ours):6.0f}] "
                  f"{median[name, (loop, 'bare')]:8.0f} [{min(bare):6.0f} - {max(bare):6.0f}] "
                  f"{median[name, (loop, 'loop')] / median[name, (loop, 'bare')]:9.3f} "
                  f"{median[name, (loop, 'loop')] / median['fp32', (loop, 'loop')]:11.2f}x")


if __name__ == "__main__":
    main()
