"""Load and validate params.yaml. A wrong key or value stops the stage with a message naming the
key, the value and what is allowed, before any heavy work."""
import difflib
import os

import yaml

import torch

from lib.errors import UserError

PARAMS_FILE = "params.yaml"


# Each check returns None when the value is fine, or a phrase saying what is allowed.
def choice(*options):
    return lambda v: None if v in options else "one of: " + ", ".join(map(str, options))


def available_devices():
    """The devices this machine has, in the order `auto` prefers them."""
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return [d for d, ok in (("cuda", torch.cuda.is_available()), ("mps", mps), ("cpu", True)) if ok]


def device(v):
    """`auto`, or a device this machine has."""
    have = available_devices()
    if v == "auto" or v in have:
        return None
    missing = f" ({v} is not available on this machine)" if v in ("cuda", "mps") else ""
    return f"'auto' or a device this machine has: {', '.join(reversed(have))}{missing}"


def boolean(v):
    return None if isinstance(v, bool) else "true or false"


def positive_int(v):
    return None if isinstance(v, int) and not isinstance(v, bool) and v > 0 else "a positive integer"


def int_in(low, high, why=""):
    """An integer in [low, high]; `why` says where the bound comes from."""
    return lambda v: (None if isinstance(v, int) and not isinstance(v, bool) and low <= v <= high
                      else f"an integer from {low:,} to {high:,}{why}")


def non_negative_int(v):
    return None if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else "an integer >= 0"


def optional(check):
    return lambda v: None if v is None else check(v) and check(v) + " (or null)"


def positive_number(v):
    return None if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else "a number > 0"


def non_negative_number(v):
    return None if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 else "a number >= 0"


def optional_path(v):
    return None if v is None or (isinstance(v, str) and v) else "a path (string) or null"


def fraction(v):
    """A pruning level: 0 <= v < 1."""
    return None if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1 else "a number in [0, 1)"


def open_fraction(v):
    """A target: 0 < v < 1."""
    return None if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1 else "a number in (0, 1)"


def reduction_target(v):
    """A structured target: a fraction in (0, 1) of target_kind removed, or {macs: x, params: y} (either
    or both keys, each in (0, 1)) reached together."""
    if open_fraction(v) is None or (isinstance(v, dict) and v and set(v) <= {"macs", "params"}
                                    and all(open_fraction(x) is None for x in v.values())):
        return None
    return "a number in (0, 1), or a mapping of macs and/or params to numbers in (0, 1), e.g. {macs: 0.5, params: 0.7}"


def fraction_up_to_one(v):
    """A share that may be whole: 0 < v <= 1."""
    return None if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1 else "a number in (0, 1]"


def levels(v):
    if not isinstance(v, list) or not v:
        return "a non-empty list of numbers in (0, 1)"
    if any(fraction(x) or x == 0 for x in v) or len(set(v)) != len(v):
        return "a non-empty list of distinct numbers in (0, 1)"
    return None


def layer_name(v):
    return None if v in [f"conv{i}" for i in range(1, 9)] else "one of conv1 ... conv8"


def per_layer(v):
    """`auto`, or a mapping layer name -> level in [0, 1) (layer names are checked against the model)."""
    if v == "auto":
        return None
    if isinstance(v, dict) and v and all(isinstance(k, str) and fraction(x) is None for k, x in v.items()):
        return None
    return "'auto' or a mapping layer -> number in [0, 1), e.g. {conv1: 0.5, conv2: 0.8}"


TRAINING = {  # hyperparameters of lib.train.fit
    "epochs": positive_int,
    "batch_size": positive_int,
    "lr": positive_number,
    "momentum": non_negative_number,
    "weight_decay": non_negative_number,
    "schedule": choice("onecycle", "cosine"),
    "augment": boolean,
}

RECIPES = ("finetune", "structured_finetune")  # the sections that hold a training recipe (TRAINING)
NUM_CLASSES = 10  # of both sources, CIFAR-10 and digits
PER_CLASS = f" (at least one image per class: both sources have {NUM_CLASSES} classes)"
MAX_FIGURE_IMAGES = 32  # rows of the Grad-CAM figure: about 250 pixels each at its resolution

SCHEMA = {
    "seed": int_in(0, 2**32 - 1, " (NumPy's seed range)"),
    "device": device,
    "data": {
        "source": choice("cifar10", "digits"),
        "local_path": optional_path,
        "val_size": int_in(NUM_CLASSES, 10**9, PER_CLASS),
        "train_subset": optional(int_in(NUM_CLASSES, 10**9, PER_CLASS)),
        "test_subset": optional(int_in(NUM_CLASSES, 10**9, PER_CLASS)),
    },
    "model": {
        "arch": choice("vgg11", "vgg11_bn"),
        "head": choice("cifar", "imagenet"),
        "width": fraction_up_to_one,
    },
    "finetune": {"pretrained": boolean, **TRAINING},
    "unstructured_sensitivity": {
        "sparsities": levels,
        "include_linear": boolean,
        "histogram_sparsity": fraction,
    },
    "unstructured_prune": {
        "sparsities": per_layer,
        "target": optional(open_fraction),
        "budget": non_negative_number,
        "allocation": choice("global", "uniform", "sensitivity", "per_layer"),
        "linear_sparsity": fraction,
        "schedule": choice("oneshot", "gradual"),
        "finetune_epochs": non_negative_int,
        "lr": positive_number,
        "gradual_initial": fraction,
        "gradual_ramp": fraction_up_to_one,
        "gradual_every": positive_int,
    },
    "structured_sensitivity": {
        "ratios": levels,
        "figure_layer": layer_name,
        "figure_ratio": fraction,
    },
    "structured_prune": {
        "ratios": per_layer,
        "target": optional(reduction_target),
        "target_kind": choice("macs", "params"),
        "budget": non_negative_number,
        "allocation": choice("sensitivity", "uniform", "per_layer"),
        "round_to": positive_int,
        "bn_recalibration_batches": non_negative_int,
    },
    "structured_finetune": TRAINING,
    "dense_extra": {"epochs": positive_int, "lr": positive_number},
    "gradcam": {
        "num_images": int_in(1, MAX_FIGURE_IMAGES, " (the figure shows one row per image)"),
        "target_layer": layer_name,
        "target": choice("predicted", "true"),
        "include_unfinetuned": boolean,
        "agreement_images": positive_int,
        "faithfulness_images": positive_int,
        "road_percentiles": lambda v: None if isinstance(v, list) and v and len(set(v)) == len(v) and all(
            isinstance(x, int) and not isinstance(x, bool) and 0 < x < 100 for x in v)
        else "a non-empty list of distinct integers in (0, 100), e.g. [20, 40, 60, 80]",
        "top_k": fraction_up_to_one,
    },
    "tradeoff": {"unstructured_targets": levels, "structured_targets": levels},
    "measure": {"batch_size": positive_int},
    "timing": {
        "latency_runs": int_in(4, 100_000, " (quartiles need 4 rounds)"),
        "warmup": non_negative_int,
        "throughput_batch": positive_int,
        "throughput_runs": positive_int,
        "fold_batchnorm": boolean,
    },
}


# Rules between keys of one section: (section, broken(values), what to do).
RULES = [
    ("unstructured_prune", lambda p: p["schedule"] == "gradual" and p["finetune_epochs"] == 0,
     "schedule: gradual raises the sparsity during the masked fine-tune; set finetune_epochs > 0"),
    ("unstructured_prune", lambda p: p["schedule"] == "gradual" and p["sparsities"] == "auto"
     and p["target"] is None and p["allocation"] != "per_layer",
     "gradual pruning is driven by a target: set target (target: null searches the budget, for one-shot pruning)"),
]


def _check(name, value, schema):
    if not isinstance(schema, dict):
        problem = schema(value)
        if problem:
            raise UserError(f"{PARAMS_FILE}: {name} = {value!r} is not allowed; expected {problem}.")
        return
    if not isinstance(value, dict):
        raise UserError(f"{PARAMS_FILE}: {name} must be a section with keys {', '.join(schema)}; got {value!r}.")
    for key in value:
        if key not in schema:
            close = difflib.get_close_matches(str(key), list(schema), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise UserError(f"{PARAMS_FILE}: unknown key {name}.{key}.{hint} Allowed keys in {name}: "
                            f"{', '.join(schema)}.")
    for key, check in schema.items():
        if key not in value:
            raise UserError(f"{PARAMS_FILE}: missing key {name}.{key}; add it (see the README's parameter list).")
        _check(f"{name}.{key}", value[key], check)


def load(*sections, path=PARAMS_FILE):
    """The validated sections of params.yaml as {section: value}."""
    if not os.path.isfile(path):
        raise UserError(f"{path} not found; run the stages from the project's root folder.")
    with open(path) as f:
        try:
            params = yaml.safe_load(f) or {}
        except yaml.YAMLError as err:
            raise UserError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(params, dict):
        raise UserError(f"{path} must be a mapping of sections (seed: 0, device: auto, data: ..., as in the README's "
                        f"parameter list); it holds a {type(params).__name__}.")
    unknown = [k for k in params if k not in SCHEMA]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), list(SCHEMA), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UserError(f"{path}: unknown section or key '{unknown[0]}'.{hint} Allowed: {', '.join(SCHEMA)}.")
    out = {}
    for name in sections:
        if name not in params:
            raise UserError(f"{path}: missing section or key '{name}'.")
        _check(name, params[name], SCHEMA[name])
        out[name] = params[name]
    for section, broken, advice in RULES:
        if section in out and broken(out[section]):
            raise UserError(f"{path}: {section}: {advice}.")
    return out
