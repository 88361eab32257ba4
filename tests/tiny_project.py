"""A tiny copy of the project for running real stages as subprocesses (test_bad_input, test_interrupted):
lib/, stages/, a valid params.yaml, and every artifact the stages read or write already in place
(random 40-image splits, small checkpoints, metrics, sensitivity results, placeholder figures)."""
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys

import torch
import yaml

from conftest import ROOT, SMALL_FILTERS, make_split
from lib import models
from lib.io import save_torch
from lib.measure import KEYS
from lib.pruning import to_sparse
from lib.timing import KEYS as TIMING_KEYS

SMALL_PRUNED = [f // 2 for f in SMALL_FILTERS]
PARAMS = {  # valid and small: a stage that gets past validation finishes in seconds
    "data": {"source": "digits", "val_size": 100, "train_subset": 300, "test_subset": 100},
    "finetune": {"epochs": 1, "batch_size": 8},
    "measure": {"batch_size": 20},
    "timing": {"latency_runs": 4, "warmup": 0, "throughput_batch": 4, "throughput_runs": 1},
    "unstructured_sensitivity": {"sparsities": [0.5, 0.9]},
    "structured_sensitivity": {"ratios": [0.25, 0.5]},
    "structured_finetune": {"epochs": 1, "batch_size": 8},
    "dense_extra": {"epochs": 1},
    "gradcam": {"num_images": 4, "agreement_images": 20, "faithfulness_images": 4},
    "tradeoff": {"unstructured_targets": [0.5], "structured_targets": [0.3]},
}


def stage_command(stage):
    """The stage's command line from dvc.yaml, run with this interpreter."""
    cmd = shlex.split(yaml.safe_load(open(os.path.join(ROOT, "dvc.yaml")))["stages"][stage]["cmd"])
    return [sys.executable if cmd[0] == "python" else cmd[0]] + cmd[1:]


def stage_outputs():
    """Every path dvc.yaml declares as an output or metrics file."""
    paths = []
    for stage in yaml.safe_load(open(os.path.join(ROOT, "dvc.yaml")))["stages"].values():
        for entry in stage.get("outs", []) + stage.get("metrics", []):
            paths.append(entry if isinstance(entry, str) else next(iter(entry)))
    return paths


def set_params(folder, edit):
    """Rewrite folder/params.yaml with edit(params) applied (edit changes the dict in place)."""
    path = folder / "params.yaml"
    params = yaml.safe_load(path.read_text())
    edit(params)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def small_params(params):
    for section, values in PARAMS.items():
        params[section].update(values)


def sweep_results(layers, levels):
    return {"baseline": {"accuracy": 50.0, "loss": 1.0},
            "records": [{"layer": layer, "level": level, "accuracy": 50.0 - 10 * level, "loss": 1.0 + level}
                        for layer in layers for level in levels]}


def make_project(folder):
    """Build the tiny project in `folder` (created) and return it."""
    folder.mkdir(parents=True)
    for name in ("lib", "stages"):
        shutil.copytree(os.path.join(ROOT, name), folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(ROOT, "params.yaml"), folder / "params.yaml")
    set_params(folder, small_params)

    for i, name in enumerate(("train", "val", "test")):
        save_torch(make_split(40, seed=i), str(folder / "data" / f"{name}.pt"))
    torch.manual_seed(0)
    arch = models.architecture("vgg11_bn", "cifar", 10, SMALL_FILTERS)
    small = models.architecture("vgg11_bn", "cifar", 10, SMALL_PRUNED)
    classes = make_split(1)["classes"]
    baseline = models.build(arch)
    models.save_checkpoint(str(folder / "models/vgg11_cifar10_finetuned.pth"), baseline, arch, classes=classes)
    models.save_checkpoint(str(folder / "models/unstructured_pruned_vgg11.pth"), baseline, arch, classes=classes)
    save_torch({"architecture": arch, "sparse_state_dict": to_sparse(baseline.state_dict())},
               str(folder / "models/unstructured_pruned_vgg11_sparse.pth"))
    for name in ("vgg11_cifar10_structured_pruned", "vgg11_cifar10_structured_pruned_finetuned"):
        models.save_checkpoint(str(folder / f"models/{name}.pth"), models.build(small), small, classes=classes)

    conv_layers = [f"conv{i}" for i in range(1, 9)]
    save_torch(sweep_results(conv_layers, [0.5, 0.9]), str(folder / "reports/unstructured_sensitivity_results.pth"))
    metrics = {key: 1.0 for key in KEYS}
    for name in ("finetune", "unstructured", "structured_pruned", "structured_finetuned", "dense_extra", "scratch"):
        write(folder / f"reports/eval/{name}.json", json.dumps(metrics))
    write(folder / "reports/unstructured_sparsities.json",
          json.dumps({"allocation": "global", "schedule": "gradual", "conv_sparsity": 0.5}))
    write(folder / "reports/eval/gradcam.json", json.dumps({"images": 20, "faithfulness_images": 4}))
    variants = ("original", "unstructured", "structured", "structured_finetuned", "dense_extra", "scratch")
    write(folder / "reports/timing.json", json.dumps({v: {key: 1.0 for key in TIMING_KEYS} for v in variants}))
    write(folder / "reports/structured_sensitivity_results.json", json.dumps(sweep_results(conv_layers, [0.25, 0.5])))
    for path in stage_outputs():  # every other output: a placeholder standing for the previous run's
        target = folder / path
        if not target.exists():
            write(target / "previous.tsv" if not target.suffix else target, f"previous {path}\n")
    return folder


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def copy_project(template, folder):
    shutil.copytree(template, folder)
    return folder


def snapshot(folder):
    """{relative path: sha256} of every file under `folder` (Python's __pycache__ aside)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            out[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def stage_env():
    """No __pycache__ in the project copy; one torch thread (tiny models, and on a busy machine two
    spinning OpenMP threads make a training step many times slower)."""
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}


def run_stage(folder, stage, timeout=120):
    """Run the stage's dvc.yaml command in `folder`; the CompletedProcess (text)."""
    return subprocess.run(stage_command(stage), cwd=folder, env=stage_env(), capture_output=True, text=True,
                          timeout=timeout)
