"""Invalidation is exact: each stage's `deps` in dvc.yaml list exactly the repository source files its
command runs (the stage script and every lib/ module it imports, transitively) and its `params` exactly
the keys its PARAMS declares, both written by tools/dvcyaml.py: an edit to code a stage runs re-runs that
stage, and an edit elsewhere re-runs nothing. Every setting is declared once."""
import dataclasses
import os
import re

import yaml

from conftest import ROOT, committed_params, declarations, stage_modules
from lib import config
from tools import dvcyaml

STAGES = yaml.safe_load(open(os.path.join(ROOT, "dvc.yaml")))["stages"]
TRAINING = ("finetune", "unstructured_prune", "structured_finetune", "unstructured_random", "structured_random",
            "dense_extra", "scratch")


def code(stage):
    return {d for d in STAGES[stage]["deps"] if d.endswith(".py")}


def test_dvc_yaml_is_what_the_tool_writes():
    """Each stage's code deps are its import closure and its params its declarations (python -m tools.dvcyaml)."""
    text = open(os.path.join(ROOT, "dvc.yaml")).read()
    assert dvcyaml.render(text) == text, "dvc.yaml is out of date: run python -m tools.dvcyaml"


def test_the_import_walk_follows_imports_transitively():
    assert {"stages/compare.py", "lib/report.py", "lib/io.py", "lib/errors.py", "lib/__init__.py"} <= dvcyaml.code_of(
        "stages/compare.py")
    assert "lib/errors.py" in dvcyaml.code_of("stages/__init__.py")
    assert "lib/train.py" not in dvcyaml.code_of("lib/cost.py") and "lib/models.py" in dvcyaml.code_of("lib/cost.py")
    assert {"stages/finetune.py", "stages/__init__.py", "lib/train.py", "lib/stage.py"} <= code("finetune")


def test_the_report_side_runs_no_training_or_sweep_code():
    """compare only reads JSON: its code (and so its dvc.yaml deps) holds neither the training loop nor
    the sweep, so an edit to them re-runs it only through the files it reads."""
    training = {"lib/train.py", "lib/pruning/sensitivity.py", "lib/measure.py", "lib/stage.py"}
    assert not training & code("compare")


def test_no_plotting_measurement_or_cost_module_runs_in_a_training_stage():
    """Figures are drawn by stage figures (and compare), variants measured by stage evaluate: an edit to the
    code that draws, measures or counts costs re-runs no training."""
    for stage in TRAINING:
        assert not {"lib/plots.py", "lib/measure.py", "lib/cost.py", "lib/report.py", "lib/gradcam.py"} & code(stage), \
            stage
    drawing = {stage for stage in STAGES if "lib/plots.py" in code(stage)}
    assert drawing == {"figures"}


def test_every_setting_is_declared_once_and_every_key_of_params_yaml_is_declared():
    """config.SECTIONS is every name the stages declare; each section has one whole declaration (parts of
    it elsewhere are views of that one), and params.yaml holds exactly its declared keys."""
    declared = declarations()
    assert set(declared) == set(config.SECTIONS)
    params = yaml.safe_load(committed_params())
    assert list(params) == list(config.SECTIONS)
    whole = {}
    for module in stage_modules():
        schema = getattr(module, "PARAMS", {})
        for name, declaration in schema.items() if isinstance(schema, dict) else ():
            if name is not config.TOP and not config.is_part(declaration):
                whole.setdefault(name, set()).add(declaration)
            if name is not config.TOP and config.is_part(declaration):  # a part reads keys its section declares
                owner = declaration.PART_OF or declared[name]
                assert {f.name for f in dataclasses.fields(declaration)} <= \
                    {f.name for f in dataclasses.fields(owner)}, (module.__name__, name)
    assert all(len(found) == 1 for found in whole.values()), whole
    for name, declaration in declared.items():
        if isinstance(declaration, type):
            assert set(params[name]) == {f.name for f in dataclasses.fields(declaration)}, name


def test_the_architecture_doc_names_the_stages_each_module_re_runs():
    """docs/architecture.md's table (module -> stages that run it) is dvc.yaml's deps, read backwards."""
    runs = {}
    for name, stage in STAGES.items():
        for dep in stage["deps"]:
            if dep.startswith("lib/"):
                runs.setdefault(dep, set()).add(name)
    documented = {}
    for line in open(os.path.join(ROOT, "docs", "architecture.md")):
        row = re.match(r"\| `(lib/\S+\.py)` \| .* \| (.+) \|$", line.strip())
        if row:
            documented[row[1]] = set(STAGES) if row[2] == "every stage" else set(row[2].split(", "))
    assert documented == runs


def flag_values(stage, flag):
    words = STAGES[stage]["cmd"].split()
    return [value for f, value in zip(words, words[1:]) if f == flag]


def test_dvc_yaml_follows_the_registry_of_variants():
    """lib.variants names each variant's checkpoint and evaluation; the stages that take every variant
    (evaluate, export_onnx, timing, compare, figures) or every variant with a Grad-CAM column title
    (gradcam) get exactly those paths from their dvc.yaml commands, each checkpoint is some stage's output,
    and each control has the column its comparison is shown in."""
    from lib.variants import VARIANTS
    from stages.gradcam import COLUMNS
    explained = {v: spec for v, spec in VARIANTS.items() if spec["title"] is not None}
    assert sorted(COLUMNS) == sorted(explained)
    gradcam = STAGES["gradcam"]["cmd"].split()
    assert {flag[2:].replace("-", "_"): path for flag, path in zip(gradcam, gradcam[1:]) if flag[2:].replace(
        "-", "_") in VARIANTS} == {v: spec["checkpoint"] for v, spec in explained.items()}
    assert all("column" in VARIANTS[c] for spec in VARIANTS.values() for c in spec["controls"])
    checkpoints = [f"{v}={spec['checkpoint']}" for v, spec in VARIANTS.items()]
    evaluations = [f"{v}=reports/eval/{spec['evaluation']}.json" for v, spec in VARIANTS.items()]
    for stage in ("evaluate", "export_onnx", "timing"):
        assert flag_values(stage, "--model") == checkpoints, stage
    assert flag_values("timing", "--onnx") == [f"{v}={spec['checkpoint'][:-len('.pth')]}.onnx"
                                               for v, spec in VARIANTS.items()]
    assert flag_values("evaluate", "--out") == flag_values("figures", "--eval") == evaluations
    assert {f"reports/eval/{spec['evaluation']}.json" for spec in VARIANTS.values()} <= set(STAGES["compare"]["deps"])
    outputs = {out for stage in STAGES.values() for out in stage.get("outs", [])}
    assert {spec["checkpoint"] for spec in VARIANTS.values()} <= outputs
    assert {path.split("=")[1] for path in flag_values("evaluate", "--record")} <= outputs
