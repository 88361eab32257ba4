"""params.yaml, typed. Each section is a frozen dataclass declared once: beside the stage that owns it, or
in the lib module that every stage reading it runs anyway (lib.train's Recipe and Recovery, the sections
of lib.pruning.unstructured and lib.pruning.structured, lib.stage.Measure); the top-level keys are Run,
here. Each field carries the check of its values. A stage names what it reads in PARAMS ({section: its
dataclass, or `part` of one; TOP: the top-level keys}); load() validates exactly that before any work and
returns typed values. A wrong key or value stops the stage with a message naming the key, the value and
what is allowed. tools/dvcyaml.py derives each stage's dvc.yaml `params` from the same declarations, and
tools/paramdoc.py docs/parameters.md.

params.yaml is read as YAML 1.2, as DVC reads it (`2e-3` and `1e9` are numbers, not strings)."""
import dataclasses
import difflib
import os
from types import SimpleNamespace

from ruamel.yaml import YAML, YAMLError

from lib.errors import UserError

PARAMS_FILE = "params.yaml"
TOP = None  # the PARAMS entry of the top-level keys (seed, device, precision, deterministic)
# Every top-level name params.yaml may hold, in its order (tests/test_deps.py checks this against the
# declarations): an unknown one is refused by every stage, with a close-match hint.
SECTIONS = ("seed", "device", "precision", "deterministic", "data", "model", "finetune", "recovery", "measure",
            "timing", "quantize", "unstructured_sensitivity", "unstructured_prune", "structured_sensitivity",
            "structured_prune", "unstructured_tradeoff", "structured_tradeoff", "gradcam")


class Refused(Exception):
    """Raised by a section's __post_init__ for a rule between its keys: what to do, in a phrase."""


# A check returns None for a value it accepts, else the phrase saying what is allowed (also its `allowed`,
# which docs/parameters.md shows).
def check(allowed, ok):
    def check_(value):
        return None if ok(value) else allowed
    check_.allowed = allowed
    return check_


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def choice(*options):
    return check("one of: " + ", ".join(map(str, options)), lambda v: v in options)


boolean = check("true or false", lambda v: isinstance(v, bool))
positive_int = check("a positive integer", lambda v: _int(v) and v > 0)
training_batch = check("a positive integer", lambda v: _int(v) and v > 0)  # lib.stage: must fit the training split
non_negative_int = check("an integer >= 0", lambda v: _int(v) and v >= 0)
positive_number = check("a number > 0", lambda v: _number(v) and v > 0)
non_negative_number = check("a number >= 0", lambda v: _number(v) and v >= 0)
optional_path = check("a path (string) or null", lambda v: v is None or (isinstance(v, str) and v != ""))
fraction = check("a number in [0, 1)", lambda v: _number(v) and 0 <= v < 1)  # a pruning level
open_fraction = check("a number in (0, 1)", lambda v: _number(v) and 0 < v < 1)  # a target
fraction_up_to_one = check("a number in (0, 1]", lambda v: _number(v) and 0 < v <= 1)  # a share that may be whole
weight = check("a number in [0, 1]", lambda v: _number(v) and 0 <= v <= 1)  # a mixing weight
auto_or_boolean = check("auto, true or false", lambda v: v == "auto" or isinstance(v, bool))
percentiles = check("a non-empty list of distinct integers in (0, 100), e.g. [20, 40, 60, 80]",
                    lambda v: isinstance(v, list) and bool(v) and len(set(v)) == len(v)
                    and all(_int(x) and 0 < x < 100 for x in v))
layer_name = check("one of conv1 ... conv8", lambda v: v in [f"conv{i}" for i in range(1, 9)])


def int_in(low, high, why=""):
    """An integer in [low, high]; `why` says where the bound comes from."""
    return check(f"an integer from {low:,} to {high:,}{why}", lambda v: _int(v) and low <= v <= high)


def optional(inner):
    return check(f"{inner.allowed} (or null)", lambda v: v is None or inner(v) is None)


def _levels(v):
    return isinstance(v, list) and v and all(fraction(x) is None and x != 0 for x in v) and len(set(v)) == len(v)


levels = check("a non-empty list of distinct numbers in (0, 1)", _levels)
per_layer = check("'auto' or a mapping layer -> number in [0, 1), e.g. {conv1: 0.5, conv2: 0.8}",
                  lambda v: v == "auto" or (isinstance(v, dict) and bool(v) and all(
                      isinstance(k, str) and fraction(x) is None for k, x in v.items())))
reduction_target = check(  # a structured target: one fraction, or several kinds reached together
    "a number in (0, 1), or a mapping of macs and/or params to numbers in (0, 1), e.g. {macs: 0.5, params: 0.7}",
    lambda v: open_fraction(v) is None or (isinstance(v, dict) and bool(v) and set(v) <= {"macs", "params"}
                                            and all(open_fraction(x) is None for x in v.values())))


def available_devices():
    """The devices this machine has, in the order `auto` prefers them."""
    import torch  # only where a device is checked: check_params reads the file without it
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return [d for d, ok in (("cuda", torch.cuda.is_available()), ("mps", mps), ("cpu", True)) if ok]


def device(v):
    """`auto`, or a device this machine has (the message lists this machine's)."""
    have = available_devices()
    if v == "auto" or v in have:
        return None
    missing = f" ({v} is not available on this machine)" if v in ("cuda", "mps") else ""
    return f"'auto' or a device this machine has: {', '.join(reversed(have))}{missing}"


device.allowed = "auto, or a device this machine has: cpu, cuda, mps"


def setting(check_):
    """A dataclass field whose values `check_` validates."""
    return dataclasses.field(metadata={"check": check_})


@dataclasses.dataclass(frozen=True)
class Run:
    """The top-level keys: how every stage that trains or evaluates runs (lib.runtime.setup)."""
    seed: int = setting(int_in(0, 2**32 - 1, " (NumPy's seed range)"))
    device: str = setting(device)
    precision: str = setting(choice("auto", "fp32", "bf16"))
    deterministic: bool = setting(boolean)


def part(section, *names):
    """The keys `names` of the declaration `section`, for a stage that reads only those of a section another
    stage owns: the section's other keys are left to their readers."""
    fields = {f.name: f for f in dataclasses.fields(section)}
    unknown = [n for n in names if n not in fields]
    if unknown:
        raise ValueError(f"{section.__name__} declares no {unknown}")
    return dataclasses.make_dataclass(
        f"{section.__name__}Part", [(n, fields[n].type, dataclasses.field(metadata=fields[n].metadata)) for n in names],
        frozen=True, namespace={"PART_OF": section})


def unchecked(*names):
    """Keys a stage reads for a rule between sections and does not check itself (their owner does, and an
    unexpected value fails the rule by name)."""
    return dataclasses.make_dataclass("Unchecked", [(n, object, dataclasses.field(metadata={"check": None}))
                                                     for n in names], frozen=True, namespace={"PART_OF": None})


def is_part(declaration):
    return hasattr(declaration, "PART_OF")


def parse(path=PARAMS_FILE):
    """The YAML file at `path`, read as DVC reads it (YAML 1.2: `2e-3` is a number, `yes` a string)."""
    if not os.path.isfile(path):
        raise UserError(f"{path} not found; run the stages from the project's root folder.")
    try:
        with open(path) as f:
            return YAML(typ="safe").load(f)
    except YAMLError as err:
        raise UserError(f"{path} is not valid YAML: {err}") from err


def read(path=PARAMS_FILE):
    """params.yaml as a dict (parse), its top-level names checked against SECTIONS."""
    params = parse(path) or {}
    if not isinstance(params, dict):
        raise UserError(f"{path} must be a mapping of sections (seed: 0, device: auto, data: ..., as "
                        f"docs/parameters.md lists them); it holds a {type(params).__name__}.")
    unknown = [k for k in params if k not in SECTIONS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), SECTIONS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UserError(f"{path}: unknown section or key '{unknown[0]}'.{hint} Allowed: {', '.join(SECTIONS)}.")
    return params


def _values(name, values, declaration, path):
    """The checked values of `declaration` from `values` (a section's dict, or the whole file for TOP)."""
    fields = [f.name for f in dataclasses.fields(declaration)]
    if name is not TOP and not isinstance(values, dict):
        raise UserError(f"{PARAMS_FILE}: {name} must be a section with keys {', '.join(fields)}; got {values!r}.")
    prefix = "" if name is TOP else f"{name}."
    if name is not TOP and not is_part(declaration):
        for key in values:
            if key not in fields:
                close = difflib.get_close_matches(str(key), fields, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise UserError(f"{PARAMS_FILE}: unknown key {name}.{key}.{hint} Allowed keys in {name}: "
                                f"{', '.join(fields)}.")
    for field in dataclasses.fields(declaration):
        if field.name not in values:
            if name is TOP:
                raise UserError(f"{path}: missing section or key '{field.name}'.")
            close = difflib.get_close_matches(field.name, [str(k) for k in values if k not in fields], n=1)
            hint = f" (is '{close[0]}' a misspelling of it?)" if close else ""
            raise UserError(f"{PARAMS_FILE}: missing key {name}.{field.name}{hint}; add it (docs/parameters.md lists "
                            "every key).")
        problem = field.metadata["check"] and field.metadata["check"](values[field.name])
        if problem:
            raise UserError(f"{PARAMS_FILE}: {prefix}{field.name} = {values[field.name]!r} is not allowed; "
                            f"expected {problem}.")
    try:
        return declaration(**{f: values[f] for f in fields})
    except Refused as err:
        raise UserError(f"{path}: {name}: {err}.") from err


def load(schema, path=PARAMS_FILE):
    """The values of params.yaml that `schema` names ({section: its declaration; TOP: the top-level keys'}),
    validated: a namespace with the top-level keys as attributes (params.seed) and each section as its
    dataclass (params.finetune.lr)."""
    params, out = read(path), {}
    for name, declaration in schema.items():
        if name is TOP:
            out.update(dataclasses.asdict(_values(TOP, params, declaration, path)))
        elif name not in params:
            raise UserError(f"{path}: missing section or key '{name}'.")
        else:
            out[name] = _values(name, params[name], declaration, path)
    return SimpleNamespace(**out)


WHOLE_FILE = "the whole file"  # a stage's PARAMS: every key of params.yaml (stage check_params)


def keys(schema):
    """The params.yaml keys `schema` reads, as dvc.yaml lists them: a top-level key or a section whole by
    its name, a part of a section key by key (section.key); WHOLE_FILE: the file itself."""
    if schema == WHOLE_FILE:
        return [PARAMS_FILE + ":"]
    out = []
    for name, declaration in schema.items():
        fields = [f.name for f in dataclasses.fields(declaration)]
        out += fields if name is TOP else [f"{name}.{f}" for f in fields] if is_part(declaration) else [name]
    return out
