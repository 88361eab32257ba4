"""download: CIFAR-10 (official archive or a local copy) or the offline digits -> train/val/test
uint8 tensors (data/{train,val,test}.pt) and a summary (reports/data.json)."""
import argparse
import dataclasses

import torch

from lib import config, sources
from lib.config import setting
from lib.sources import stratified_split
from lib.errors import UserError, param, run
from lib.io import save_json, save_torch

NUM_CLASSES = 10  # of both sources, CIFAR-10 and digits
PER_CLASS = f" (at least one image per class: both sources have {NUM_CLASSES} classes)"


@dataclasses.dataclass(frozen=True)
class Data:
    source: str = setting(config.choice("cifar10", "digits"))
    local_path: str = setting(config.optional_path)
    val_size: int = setting(config.int_in(NUM_CLASSES, 10**9, PER_CLASS))
    train_subset: int = setting(config.optional(config.int_in(NUM_CLASSES, 10**9, PER_CLASS)))
    test_subset: int = setting(config.optional(config.int_in(NUM_CLASSES, 10**9, PER_CLASS)))


PARAMS = {config.TOP: config.part(config.Run, "seed"), "data": Data}


def subset(indices, labels, size, key, seed):
    """A stratified subset of `indices` of `size` (None keeps all)."""
    if size is None:
        return indices
    if size >= len(indices):
        raise UserError(f"params.yaml: {key} = {size} must be smaller than the {len(indices)} images available "
                        "(use null to keep all of them)")
    return indices[stratified_split(labels[indices], size, seed)[1]]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="folder for train.pt, val.pt, test.pt")
    parser.add_argument("--summary", required=True)
    args = parser.parse_args()
    params = config.load(PARAMS)
    seed, data = params.seed, params.data

    with param("data.local_path"):  # the only one of data's values sources.read can find wrong
        raw = sources.read(data.source, data.local_path, seed)
    labels = raw["train_labels"]
    if data.val_size >= len(labels):
        raise UserError(f"params.yaml: data.val_size = {data.val_size} must be smaller than the "
                        f"{len(labels)} training images of {data.source}")
    train_idx, val_idx = stratified_split(labels, data.val_size, seed)
    indices = {"train": subset(train_idx, labels, data.train_subset, "data.train_subset", seed), "val": val_idx}
    test_all = torch.arange(len(raw["test_labels"]))
    indices["test"] = subset(test_all, raw["test_labels"], data.test_subset, "data.test_subset", seed)

    summary = {"source": data.source, "origin": raw["origin"], "checksum": raw["checksum"],
               "classes": raw["classes"], "splits": {}}
    for name, idx in indices.items():
        prefix = "test" if name == "test" else "train"
        images, split_labels = raw[f"{prefix}_images"][idx].contiguous(), raw[f"{prefix}_labels"][idx].clone()
        save_torch({"images": images, "labels": split_labels, "classes": raw["classes"]}, f"{args.out}/{name}.pt")
        counts = torch.bincount(split_labels, minlength=len(raw["classes"])).tolist()
        summary["splits"][name] = {"count": len(idx), "per_class": dict(zip(raw["classes"], counts))}
    save_json(summary, args.summary)
    print({name: split["count"] for name, split in summary["splits"].items()})


if __name__ == "__main__":
    run(main)
