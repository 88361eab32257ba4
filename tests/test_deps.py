"""Invalidation is exact: each stage's `deps` in dvc.yaml list exactly the repository source files its
command runs (the stage script and every lib/ module it imports, transitively, found with ast), so
an edit to code a stage runs re-runs that stage, and an edit elsewhere re-runs nothing."""
import ast
import os

import yaml

from conftest import ROOT


def local_imports(path):
    """Repository modules (lib/*.py, stages/*.py) that the file at `path` imports."""
    found = set()
    for node in ast.walk(ast.parse(open(os.path.join(ROOT, path)).read())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] in ("lib", "stages"):  # the module, and each package's __init__ that Python runs first
                found |= {"/".join(parts) + ".py"}
                found |= {"/".join(parts[:i]) + "/__init__.py" for i in range(1, len(parts))}
    return {p for p in found if os.path.isfile(os.path.join(ROOT, p))}


def code_of(script):
    seen, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += local_imports(path)
    return seen


def test_every_stage_depends_on_exactly_the_code_it_runs():
    stages = yaml.safe_load(open(os.path.join(ROOT, "dvc.yaml")))["stages"]
    wrong = {}
    for name, stage in stages.items():
        words = stage["cmd"].split()
        assert words[:2] == ["python", "-m"], name
        # `python -m` runs the package first
        runs = code_of(words[2].replace(".", "/") + ".py") | {"stages/__init__.py"}
        listed = {d for d in stage["deps"] if d.endswith(".py")}
        if runs != listed:
            wrong[name] = {"missing": sorted(runs - listed), "not run": sorted(listed - runs)}
    assert not wrong, wrong


def test_the_import_walk_follows_imports_transitively():
    assert {"stages/compare.py", "lib/report.py", "lib/io.py", "lib/errors.py", "lib/__init__.py"} <= code_of(
        "stages/compare.py")
    assert "lib/errors.py" in code_of("stages/__init__.py")
    assert "lib/train.py" not in code_of("lib/cost.py") and "lib/models.py" in code_of("lib/cost.py")


def test_the_report_side_runs_no_training_or_sweep_code():
    """compare only reads JSON: its code (and so its dvc.yaml deps) holds neither the training loop nor
    the sweep, so an edit to them re-runs it only through the files it reads."""
    training = {"lib/train.py", "lib/pruning/sensitivity.py", "lib/measure.py", "lib/stage.py"}
    assert not training & code_of("stages/compare.py")


def test_every_stage_lists_in_dvc_yaml_exactly_the_params_it_declares():
    """A stage's PARAMS (its own section whole, other sections' keys as config.Keys; seed and device
    come with lib.stage.start) are its dvc.yaml `params`, so DVC re-runs it for exactly the values it reads."""
    from conftest import stage_modules
    from lib import config
    stages = yaml.safe_load(open(os.path.join(ROOT, "dvc.yaml")))["stages"]
    wrong = {}
    for module in stage_modules():
        name = module.__name__.split(".")[1]
        declared = set(config.RUN) if "stage.start(" in open(module.__file__).read() else set()
        for section, schema in getattr(module, "PARAMS", {}).items():
            declared |= {f"{section}.{key}" for key in schema} if isinstance(schema, config.Keys) else {section}
        listed = set(stages[name].get("params", []))
        if declared != listed:
            wrong[name] = {"declared, not listed": sorted(declared - listed),
                           "listed, not declared": sorted(listed - declared)}
    assert not wrong, wrong


def test_the_architecture_doc_names_the_stages_each_module_re_runs():
    """docs/architecture.md's table (module -> stages that run it) is dvc.yaml's deps, read backwards."""
    import re
    stages = yaml.safe_load(open(os.path.join(ROOT, "dvc.yaml")))["stages"]
    runs = {}
    for name, stage in stages.items():
        for dep in stage["deps"]:
            if dep.startswith("lib/"):
                runs.setdefault(dep, set()).add(name)
    documented = {}
    for line in open(os.path.join(ROOT, "docs", "architecture.md")):
        row = re.match(r"\| `(lib/\S+\.py)` \| .* \| (.+) \|$", line.strip())
        if row:
            documented[row[1]] = set(stages) if row[2] == "every stage" else set(row[2].split(", "))
    assert documented == runs


def test_dvc_yaml_follows_the_registry_of_variants():
    """lib.variants names each variant's checkpoint and evaluation; the stages that take every variant
    (timing, compare) or every variant with a Grad-CAM column title (gradcam) get exactly those paths from
    their dvc.yaml commands and deps, each checkpoint is some stage's output, and each control has the
    column its comparison is shown in."""
    from lib.variants import VARIANTS
    from stages.gradcam import COLUMNS
    stages = yaml.safe_load(open(os.path.join(ROOT, "dvc.yaml")))["stages"]
    gradcam, timing = stages["gradcam"]["cmd"].split(), stages["timing"]["cmd"].split()
    explained = {v: spec for v, spec in VARIANTS.items() if spec["title"] is not None}
    assert sorted(COLUMNS) == sorted(explained)
    assert {flag[2:].replace("-", "_"): path for flag, path in zip(gradcam, gradcam[1:]) if flag[2:].replace(
        "-", "_") in VARIANTS} == {v: spec["checkpoint"] for v, spec in explained.items()}
    assert all("column" in VARIANTS[c] for spec in VARIANTS.values() for c in spec["controls"])
    assert [value for flag, value in zip(timing, timing[1:]) if flag == "--model"] == \
        [f"{v}={spec['checkpoint']}" for v, spec in VARIANTS.items()]
    assert [value for flag, value in zip(timing, timing[1:]) if flag == "--onnx"] == \
        [f"{v}={spec['checkpoint'][:-len('.pth')]}.onnx" for v, spec in VARIANTS.items()]
    export = stages["export_onnx"]["cmd"].split()
    assert [value for flag, value in zip(export, export[1:]) if flag == "--model"] == \
        [f"{v}={spec['checkpoint']}" for v, spec in VARIANTS.items()]
    assert {f"reports/eval/{spec['evaluation']}.json" for spec in VARIANTS.values()} <= set(stages["compare"]["deps"])
    outputs = {out for stage in stages.values() for out in stage.get("outs", [])}
    assert {spec["checkpoint"] for spec in VARIANTS.values()} <= outputs
