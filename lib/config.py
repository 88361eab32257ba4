"""The validation engine of params.yaml: each stage declares the schema of what it reads (beside its
main), and a wrong key or value stops it with a message naming the key, the value and what is allowed,
before any heavy work. Here: the checks the schemas are made of, and the schemas most stages share."""
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


# Every top-level name params.yaml may hold, in its order. The schema of each is declared by the stages
# that read it (PARAMS beside each stage's main): a stage owns its section's schema, so a change to it
# re-runs only the stages that read that section. The schemas of the sections most stages read are here.
SECTIONS = ("seed", "device", "precision", "deterministic", "data", "model", "finetune", "measure", "timing",
            "unstructured_sensitivity", "unstructured_prune", "structured_sensitivity", "structured_prune",
            "structured_finetune", "dense_extra", "tradeoff", "gradcam")


class Keys(dict):
    """Some keys of a section another stage owns (or no stage owns whole): each is checked, and the
    section's other keys are left to the stages that read them."""


def keys(schema, *names):
    """The Keys `names` of a section whose schema is `schema`."""
    return Keys({name: schema[name] for name in names})


SEED = int_in(0, 2**32 - 1, " (NumPy's seed range)")
RUN = {"seed": SEED, "device": device, "precision": choice("auto", "fp32", "bf16"), "deterministic": boolean}
# the top-level keys every stage that trains or evaluates reads (lib.stage.start)
RECIPE = {  # a training recipe: the hyperparameters of lib.train.fit
    "epochs": positive_int,
    "batch_size": positive_int,
    "lr": positive_number,
    "momentum": non_negative_number,
    "weight_decay": non_negative_number,
    "schedule": choice("onecycle", "cosine"),
    "augment": boolean,
    "label_smoothing": fraction,
}
RECIPES = ("finetune", "structured_finetune")  # the sections that hold a training recipe
FINETUNE = {"pretrained": boolean, **RECIPE}
# finetune's keys a recovery recipe keeps (recipe() with its own epochs, lr and cosine schedule)
RECOVERY_FROM_FINETUNE = keys(FINETUNE, *(k for k in RECIPE if k not in ("epochs", "lr", "schedule")))
MEASURE = Keys(batch_size=positive_int)  # how every variant is evaluated (measure.batch_size)


def recipe(base, **changes):
    """A training recipe (RECIPE's keys, for lib.train.fit): `base`'s values (finetune's, the baseline's
    recipe) with `changes`: the one way a recovery or control recipe is derived from the baseline's."""
    return {key: changes[key] if key in changes else base[key] for key in RECIPE}


def _check(name, value, schema):
    if not isinstance(schema, dict):
        problem = schema(value)
        if problem:
            raise UserError(f"{PARAMS_FILE}: {name} = {value!r} is not allowed; expected {problem}.")
        return
    if not isinstance(value, dict):
        raise UserError(f"{PARAMS_FILE}: {name} must be a section with keys {', '.join(schema)}; got {value!r}.")
    for key in value:
        if key not in schema and not isinstance(schema, Keys):
            close = difflib.get_close_matches(str(key), list(schema), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise UserError(f"{PARAMS_FILE}: unknown key {name}.{key}.{hint} Allowed keys in {name}: "
                            f"{', '.join(schema)}.")
    for key, check in schema.items():
        if key not in value:
            close = difflib.get_close_matches(key, [str(k) for k in value if k not in schema], n=1)
            hint = f" (is '{close[0]}' a misspelling of it?)" if close else ""
            raise UserError(f"{PARAMS_FILE}: missing key {name}.{key}{hint}; add it (see the README's parameter "
                            "list).")
        _check(f"{name}.{key}", value[key], check)


def load(schema, rules=(), path=PARAMS_FILE):
    """The values of params.yaml that `schema` names ({section or top-level key: its check, a section's
    check being a dict of its keys' checks, or Keys for part of one}), validated, as {name: value} (a
    section holds just the keys its schema names). `rules`: (section, broken(values), what to do)
    between keys of one section, or with a tuple of sections between sections (broken({section:
    values}); what to do: a phrase, or a function of those values)."""
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
    unknown = [k for k in params if k not in SECTIONS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), SECTIONS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UserError(f"{path}: unknown section or key '{unknown[0]}'.{hint} Allowed: {', '.join(SECTIONS)}.")
    out = {}
    for name, check in schema.items():
        if name not in params:
            raise UserError(f"{path}: missing section or key '{name}'.")
        _check(name, params[name], check)
        out[name] = {key: params[name][key] for key in check} if isinstance(check, dict) else params[name]
    for section, broken, advice in rules:
        if isinstance(section, tuple) and set(section) <= set(out):
            values = {name: out[name] for name in section}
            if broken(values):
                raise UserError(f"{path}: {advice(values) if callable(advice) else advice}.")
        elif section in out and broken(out[section]):
            raise UserError(f"{path}: {section}: {advice}.")
    return out
