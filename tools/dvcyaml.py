"""dvc.yaml's derived parts, written from the code: each stage's `params` (the keys its PARAMS declares,
lib.config.keys) and the code among its `deps` (the stage script, stages/__init__.py, which `python -m`
runs first, and every lib/ module it imports, transitively, found with ast). The rest of dvc.yaml (commands,
data inputs, outputs, plots, comments) is written by hand and kept as it is. tests/test_deps.py fails when
dvc.yaml differs from what this writes.

    python -m tools.dvcyaml          # rewrites dvc.yaml
    python -m tools.dvcyaml --check  # exit 1 if dvc.yaml is out of date"""
import argparse
import ast
import importlib
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARAMS_FILE = "params.yaml"
PIPELINE = os.path.join(ROOT, "dvc.yaml")


def local_imports(path):
    """Repository modules (lib/*.py, stages/*.py) that the file at `path` (relative to the root) imports,
    with each package's __init__ that Python runs first."""
    found = set()
    for node in ast.walk(ast.parse(open(os.path.join(ROOT, path)).read())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] in ("lib", "stages"):
                found |= {"/".join(parts) + ".py"}
                found |= {"/".join(parts[:i]) + "/__init__.py" for i in range(1, len(parts))}
    return {p for p in found if os.path.isfile(os.path.join(ROOT, p))}


def code_of(script):
    """`script` and every repository module it imports, transitively."""
    seen, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += local_imports(path)
    return seen


def stage_module(cmd):
    """The module of a stage command `python -m stages.<name> ...`."""
    words = cmd.split()
    if words[:2] != ["python", "-m"] or not words[2].startswith("stages."):
        raise ValueError(f"a stage command is `python -m stages.<name> ...`; got {cmd[:60]!r}")
    return words[2]


def derived(cmd):
    """(code deps, params) of the stage whose command is `cmd`."""
    from lib import config
    module = stage_module(cmd)
    code = sorted(code_of(module.replace(".", "/") + ".py") | {"stages/__init__.py"})
    return code, config.keys(getattr(importlib.import_module(module), "PARAMS", {}))


HEADER = """\
# The study as a DVC pipeline, one stage per step; stages talk only through the files declared here.
# Written by `python -m tools.dvcyaml` from this file and the code: each stage's `params` (what its PARAMS
# declares) and the code in its `deps` (its script and every lib/ module it imports) are derived; the
# rest (desc, cmd, the data among deps, outs, metrics, plots) is edited here by hand. tests/test_deps.py
# fails when the file is not what the tool writes. Every output is cached, so DVC's run cache can restore
# any stage whose code, inputs and params it has seen before: after a failed run, fixing the param and
# `dvc repro` retrains nothing.
"""
WIDTH = 118


def flow(key, items, indent):
    """`key: [a, b, ...]`, wrapped at WIDTH with the items aligned under the first."""
    lines, line = [], f"{' ' * indent}{key}: ["
    pad = " " * len(line)
    for k, item in enumerate(items):
        word = item + ("]" if k == len(items) - 1 else ",")
        if len(line) + len(word) + 1 > WIDTH and not line.endswith("["):
            lines.append(line.rstrip())
            line = pad
        line += ("" if line.endswith("[") or line == pad else " ") + word
    return lines + [line]


def command(cmd, indent):
    """`cmd: ...` wrapped at WIDTH between options (each flag with its values on one line)."""
    groups = []
    for word in cmd.split():
        if word.startswith("--") or not groups:
            groups.append(word)
        else:
            groups[-1] += " " + word
    lines, line = [], f"{' ' * indent}cmd: "
    for group in groups:
        if len(line) + len(group) + 1 > WIDTH and line.strip() != "cmd:":
            lines.append(line.rstrip())
            line = " " * (indent + 2)
        line += ("" if line.endswith((": ", "  ")) else " ") + group
    return lines + [line]


def scalar(value):
    """A string as YAML writes it on one line (quoted where it must be)."""
    return yaml.safe_dump(value, width=10**6).removesuffix("\n...\n").strip()


def plot(entry):
    """One entry of dvc.yaml's plots: a figure's path, or {title: {template, x, y: {file: columns}}}."""
    if isinstance(entry, str):
        return [f"  - {entry}"]
    (title, spec), = entry.items()
    lines = [f"  - {title}:"] + [f"      {k}: {v}" for k, v in spec.items() if k != "y"] + ["      y:"]
    for path, columns in spec["y"].items():
        lines += flow(path, columns, 8) if isinstance(columns, list) else [f"        {path}: {columns}"]
    return lines


def render(text):
    """dvc.yaml written afresh from its text `text`: every stage's params and code deps derived again, its
    inputs (the non-code deps) kept first, the hand-written rest as it is."""
    doc = yaml.safe_load(text)
    lines = [HEADER.rstrip("\n"), "stages:"]
    for name, stage in doc["stages"].items():
        code, params = derived(stage["cmd"])
        inputs = [d for d in stage.get("deps") or [] if not d.endswith(".py")]  # (data and models)
        lines += [f"  {name}:"] + ([f"    desc: {scalar(stage['desc'])}"] if "desc" in stage else [])
        lines += command(stage["cmd"], 4) + flow("deps", inputs + code, 4)
        if params == [PARAMS_FILE + ":"]:  # the whole file: DVC's own form of it
            lines += ["    params:", f"      - {PARAMS_FILE}:"]
        else:
            lines += flow("params", params, 4) if params else []
        for key in ("outs", "metrics"):
            lines += flow(key, stage[key], 4) if stage.get(key) else []
        lines.append("")
    lines += ["plots:"] + [line for entry in doc["plots"] for line in plot(entry)]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if dvc.yaml is out of date, write nothing")
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    text = open(PIPELINE).read()
    new = render(text)
    if args.check:
        sys.exit(0 if new == text else "dvc.yaml is out of date: run python -m tools.dvcyaml")
    if new != text:
        from lib.io import save_text
        save_text(new, PIPELINE)
    print(f"{'wrote' if new != text else 'unchanged:'} {PIPELINE}")


if __name__ == "__main__":
    main()
