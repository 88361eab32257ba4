"""What every stage that works on models does before its study step, written once: its paths (required
flags, given only by its `cmd` in dvc.yaml), its validated params, the seed, the device and the data splits;
and the settings every such stage reads (COMMON: the top-level keys and `measure`)."""
import argparse
import dataclasses

from lib import config, runtime
from lib.data import check_batch_size, load_split
from lib.errors import param
from lib.io import named_paths

SPLITS = ("train", "val", "test")


@dataclasses.dataclass(frozen=True)
class Measure:
    """How every model is evaluated."""
    batch_size: int = config.setting(config.positive_int)


COMMON = {config.TOP: config.Run, "measure": Measure}  # read by every stage that starts here


def start(doc, flags, schema, splits=SPLITS):
    """(args, params, device, {split name: split}) of a stage that works on models: its paths (every flag
    required: dvc.yaml's cmd is the one place that names them; a flag written "--model=" is repeated, NAME=PATH
    each, and read as {name: path}), the params its `schema` names (lib.config.load; a model stage's schema
    holds COMMON), validated before any work (a training batch must fit in the
    training split), every RNG seeded, the kernels, device and precision chosen (lib.runtime.setup), the
    named splits of --data on that device. (check_params, download, export_onnx, quantize, timing, compare
    and figures, which train and evaluate nothing, parse their own flags, so their code, and their dvc.yaml
    deps, stay free of this.)"""
    parser = argparse.ArgumentParser(description=doc)
    for flag in flags:  # "--model=": repeated, NAME=PATH each (lib.io.named_paths)
        parser.add_argument(flag.rstrip("="), required=True, **({"action": "append", "metavar": "NAME=PATH"}
                                                                 if flag.endswith("=") else {}))
    args = parser.parse_args()
    for flag in [f for f in flags if f.endswith("=")]:
        dest = flag.strip("-=").replace("-", "_")
        setattr(args, dest, named_paths(getattr(args, dest), flag.rstrip("=")))
    params = config.load(schema)
    device = runtime.setup(params.seed, params.device, params.precision, params.deterministic)
    data = {name: load_split(f"{args.data}/{name}.pt", device) for name in splits}
    for name, section in vars(params).items():  # every training batch size (config.training_batch) fits its split
        for field in dataclasses.fields(section) if dataclasses.is_dataclass(section) and "train" in data else ():
            if field.metadata["check"] is config.training_batch:
                with param(f"{name}.{field.name}"):
                    check_batch_size(getattr(section, field.name), data["train"])
    return args, params, device, data
