"""What every stage that works on models does before its study step, written once: its paths (required
flags, given only by its `cmd` in dvc.yaml), its validated params, the seed, the device and the data
splits. (The epilogue of a stage that produces a model variant is lib.measure.save_variant.)"""
import argparse

from lib import config, runtime
from lib.data import check_batch_size, load_split
from lib.errors import param

SPLITS = ("train", "val", "test")


def start(doc, flags, schema, rules=(), splits=SPLITS):
    """(args, params, device, {split name: split}) of a stage that works on models: its paths (every
    flag required: dvc.yaml's cmd is the one place that names them), the params its `schema` (and
    `rules`, lib.config.load) names plus config.RUN (seed, device, precision, deterministic) (validated
    before any work; a training recipe's batch must fit in the training split), every RNG seeded, the kernels
    and precision chosen (lib.runtime.setup), the named splits of --data on the device. (download,
    timing and compare, which train and evaluate nothing, parse their own flags, so their code, and
    their dvc.yaml deps, stay free of the training code.)"""
    parser = argparse.ArgumentParser(description=doc)
    for flag in flags:
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    params = config.load({**config.RUN, **schema}, rules)
    device = runtime.setup(params["seed"], params["device"], params["precision"], params["deterministic"])
    data = {name: load_split(f"{args.data}/{name}.pt", device) for name in splits}
    for name in [section for section in schema if section in config.RECIPES and "batch_size" in params[section]
                 and "train" in data]:
        with param(f"{name}.batch_size"):
            check_batch_size(params[name]["batch_size"], data["train"])
    return args, params, device, data
