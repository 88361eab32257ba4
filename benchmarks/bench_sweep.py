"""Time the naive and the cached sensitivity sweep in one run, on a randomly initialised VGG-11
and random images, and check that they agree.

    .venv/bin/python -m benchmarks.bench_sweep --images 256 --levels 0.3 0.5 0.7 0.9
"""
import argparse
import time

import torch

from benchmarks.naive_sweep import naive_sweep
from lib import models
from lib.pruning import sensitivity, structured, unstructured

PRUNE = {"unstructured": unstructured.prune_layer, "structured": structured.mask_layer}


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def agree(a, b):
    pairs = [(a["baseline"], b["baseline"])] + list(zip(a["records"], b["records"]))
    return all(abs(x["accuracy"] - y["accuracy"]) < 1e-9 and abs(x["loss"] - y["loss"]) <= 1e-5 * abs(y["loss"])
               for x, y in pairs)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=256, help="random 32x32 images to evaluate on")
    parser.add_argument("--levels", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.9])
    parser.add_argument("--method", choices=sorted(PRUNE), default="unstructured")
    parser.add_argument("--arch", choices=sorted(models.ARCHS), default="vgg11_bn")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = models.build(models.architecture(args.arch, "cifar")).eval()
    images = torch.randint(0, 256, (args.images, 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (args.images,))
    layers = models.layer_names(model)
    sweep_args = (model, {layer: args.levels for layer in layers}, PRUNE[args.method],
                  {"images": images, "labels": labels}, args.batch_size)

    print(f"{args.arch}, cifar head, {args.method} pruning, {len(layers)} layers x {len(args.levels)} levels, "
          f"{args.images} images, {torch.get_num_threads()} threads")
    naive, naive_s = timed(naive_sweep, *sweep_args)
    cached, cached_s = timed(sensitivity.sweep, *sweep_args)
    print(f"naive sweep:  {naive_s:7.2f} s")
    print(f"cached sweep: {cached_s:7.2f} s")
    print(f"naive/cached: {naive_s / cached_s:7.2f}x")
    print(f"results equal: {agree(cached, naive)}")


if __name__ == "__main__":
    main()
