"""The one builder of tiny copies of the project, for the tests that run its real stages as subprocesses:
- make_repo: the project in a fresh git repo with the tiny configuration TINY, to run the pipeline
  end to end (`dvc repro`: test_pipeline, test_cifar10);
- make_project: the project with STAGE_PARAMS and every artifact the stages read or write already in
  place (random 40-image splits, small checkpoints, metrics, sensitivity results, placeholder
  figures), to run one stage alone: in this process (run_stage_here: test_bad_input) or as a
  subprocess, as dvc does (run_stage, stage_command: test_bad_input, test_interrupted)."""
import contextlib
import hashlib
import importlib
import io
import json
import os
import random
import shlex
import shutil
import subprocess
import sys

import numpy as np
import torch
import yaml

from conftest import ROOT, SMALL_FILTERS, make_split
from lib import models
from lib.io import save_torch
from lib.measure import KEYS
from lib.pruning.unstructured import to_sparse
from lib.timing import KEYS as TIMING_KEYS
from lib.variants import VARIANTS

CODE = ["dvc.yaml", "params.yaml", "lib", "stages"]  # what a stage run alone needs
PROJECT_FILES = CODE + [".dvc/config", ".dvc/.gitignore", ".dvcignore", ".gitignore",
                        "web/build/plots.html"]  # a DVC repo, and the plots page's template (make setup builds it)
STAGES = ["download", "finetune", "unstructured_sensitivity", "unstructured_prune", "structured_sensitivity",
          "structured_prune", "structured_finetune", "unstructured_random", "structured_random", "dense_extra",
          "scratch", "unstructured_tradeoff", "structured_tradeoff", "gradcam", "export_onnx", "quantize", "evaluate",
          "timing", "compare", "figures"]
# The tiny configuration of the end-to-end runs: the bundled digits, a few hundred images, an epoch or two.
TINY = {
    "device": "cpu",  # byte-identical reruns are promised on the CPU
    "precision": "fp32",  # the tests recompute results independently, in fp32 (bf16: tests/test_precision.py)
    "data": {"source": "digits", "val_size": 100, "train_subset": 300, "test_subset": 100},
    "model": {"width": 0.25},  # VGG-11 with a quarter of the filters (16 ... 128)
    "finetune": {"epochs": 2, "batch_size": 32, "lr": 0.05},
    "measure": {"batch_size": 100},
    "timing": {"latency_runs": 4, "warmup": 1, "throughput_batch": 16, "throughput_runs": 1},
    "quantize": {"calibration_images": 64},
    "unstructured_sensitivity": {"sparsities": [0.5, 0.9]},
    "recovery": {"epochs": 1},
    "unstructured_prune": {"budget": 5.0, "gradual_every": 2},
    "structured_sensitivity": {"ratios": [0.25, 0.5]},
    "structured_prune": {"bn_recalibration_batches": 2, "budget": 5.0},
    "gradcam": {"num_images": 4, "agreement_images": 20, "faithfulness_images": 8},
    "unstructured_tradeoff": {"targets": [0.5, 0.95]},
    "structured_tradeoff": {"targets": [0.3, 0.8]},
}
SMALL_PRUNED = [f // 2 for f in SMALL_FILTERS]
STAGE_PARAMS = {  # valid and small: a stage that gets past validation finishes in seconds
    "data": {"source": "digits", "val_size": 100, "train_subset": 300, "test_subset": 100},
    "model": {"width": 0.25},
    "finetune": {"epochs": 1, "batch_size": 8},
    "measure": {"batch_size": 20},
    "timing": {"latency_runs": 4, "warmup": 0, "throughput_batch": 4, "throughput_runs": 1},
    "unstructured_sensitivity": {"sparsities": [0.5, 0.9]},
    # as in the committed params.yaml, which `make demo` changes (the bad-input cases quote its schedule)
    "recovery": {"epochs": 10},
    "unstructured_prune": {"gradual_every": 50, "gradual_ramp": 0.6},
    "structured_sensitivity": {"ratios": [0.25, 0.5]},
    "gradcam": {"num_images": 4, "agreement_images": 20, "faithfulness_images": 4},
    "unstructured_tradeoff": {"targets": [0.5]},
    "structured_tradeoff": {"targets": [0.3]},
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


def set_params(folder, changes):
    """Rewrite folder/params.yaml with `changes`: {section: values} (a dict updates the section, any
    other value replaces it), or a function that edits the params dict in place."""
    path = folder / "params.yaml"
    params = yaml.safe_load(path.read_text())
    if callable(changes):
        changes(params)
    else:
        for section, values in changes.items():
            if isinstance(values, dict):
                params[section].update(values)
            else:
                params[section] = values
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def copy_project(folder, changes, files=PROJECT_FILES):
    """The project's `files` (by default pipeline, params, code and DVC config) copied into `folder`
    (created), with `changes` to its params."""
    folder.mkdir(parents=True)
    for name in files:
        src, dst = os.path.join(ROOT, name), folder / name
        if os.path.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst)
    set_params(folder, changes)
    return folder


def make_repo(path, changes=TINY):
    """The project in a fresh git repo, with the tiny configuration committed."""
    copy_project(path, changes)
    git(path, "init", "-q")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "tiny")
    return path


def environment():
    """This interpreter's tools first on the PATH and one torch thread per process (the tests run two
    pipelines at once, one per core)."""
    return {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
            "OMP_NUM_THREADS": "1"}


def sh(folder, *cmd, check=True):
    """Run `cmd` in `folder` in environment()."""
    result = subprocess.run(cmd, cwd=folder, env=environment(), capture_output=True, text=True)
    if check:
        assert result.returncode == 0, \
            f"{' '.join(cmd)} failed (exit status {result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def git(folder, *args):
    result = sh(folder, "git", "-c", "user.name=t", "-c", "user.email=t@t", *args)
    return result.stdout + result.stderr


def dvc(folder, *args):
    result = sh(folder, sys.executable, "-m", "dvc", *args)
    return result.stdout + result.stderr


def ran(output):
    """Stages `dvc repro` ran (not skipped) according to its output."""
    return [s for s in STAGES if f"Running stage '{s}'" in output]


def sweep_results(layers, levels):
    return {"baseline": {"accuracy": 50.0, "loss": 1.0},
            "records": [{"layer": layer, "level": level, "accuracy": 50.0 - 10 * level, "loss": 1.0 + level}
                        for layer in layers for level in levels]}


def make_project(folder):
    """The project with STAGE_PARAMS and every stage's inputs and outputs in place, in `folder` (created)."""
    copy_project(folder, STAGE_PARAMS, CODE)  # not a DVC repo: nothing (dvclive included) records runs in it

    for i, name in enumerate(("train", "val", "test")):
        save_torch(make_split(40, seed=i), str(folder / "data" / f"{name}.pt"))
    torch.manual_seed(0)
    arch = models.architecture("vgg11_bn", "cifar", 10, SMALL_FILTERS)
    small = models.architecture("vgg11_bn", "cifar", 10, SMALL_PRUNED)
    classes = make_split(1)["classes"]
    baseline = models.build(arch)
    for variant, spec in VARIANTS.items():
        small_one = variant.startswith("structured") or variant == "scratch"
        model = models.build(small) if small_one else baseline
        models.save_checkpoint(str(folder / spec["checkpoint"]), model, small if small_one else arch, classes=classes)
    for name in ("unstructured_pruned_vgg11_sparse", "unstructured_random_vgg11_sparse"):
        save_torch({"architecture": arch, "sparse_state_dict": to_sparse(baseline.state_dict())},
                   str(folder / f"models/{name}.pth"))

    conv_layers = [f"conv{i}" for i in range(1, 9)]
    save_torch(sweep_results(conv_layers, [0.5, 0.9]), str(folder / "reports/unstructured_sensitivity_results.pth"))
    metrics = {key: 1.0 for key in KEYS}
    for name in [spec["evaluation"] for spec in VARIANTS.values()]:
        write(folder / f"reports/eval/{name}.json", json.dumps(metrics))
    write(folder / "reports/unstructured_sparsities.json",
          json.dumps({"allocation": "global", "schedule": "gradual", "conv_sparsity": 0.5}))
    for name in ("unstructured", "structured_pruned", "structured_random", "dense_extra", "scratch"):
        write(folder / f"reports/records/{name}.json", "{}")
    write(folder / "reports/eval/gradcam.json", json.dumps({"images": 20, "faithfulness_images": 4, "method": "gradcam",
                                                            "layer": "conv6", "map_size": [4, 4]}))
    write(folder / "reports/timing.json", json.dumps({**{v: {key: 1.0 for k in TIMING_KEYS for key in (k, f"onnx_{k}")}
                                                         for v in VARIANTS}, "noise_floor": {"pytorch": 0.02}}))
    write(folder / "reports/structured_sensitivity_results.json", json.dumps(sweep_results(conv_layers, [0.25, 0.5])))
    for path in stage_outputs():  # every other output: a placeholder standing for the previous run's
        target = folder / path
        if not target.exists():
            write(target / "previous.tsv" if not target.suffix else target, f"previous {path}\n")
    return folder


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def clone_project(template, folder):
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


def run_stage_here(folder, stage):
    """(exit code, stderr) of the stage's dvc.yaml command run in this process, as `python -m` would
    run it (its module's main through lib.errors.run, the command's arguments, `folder` as the working
    directory), without paying for a new interpreter and its imports. What lib.runtime.setup changes
    for the process (the RNG states, torch's deterministic and cuDNN settings, the cuBLAS variable),
    the working directory and sys.argv are put back."""
    cmd = stage_command(stage)
    assert cmd[1] == "-m", cmd
    module = importlib.import_module(cmd[2])
    stderr, cwd, argv, environ = io.StringIO(), os.getcwd(), sys.argv, dict(os.environ)
    rng = random.getstate(), np.random.get_state(), torch.get_rng_state()
    flags = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.benchmark)
    try:
        os.chdir(folder)
        sys.argv = [cmd[2]] + cmd[3:]
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            module.run(module.main)
        code = 0
    except SystemExit as stop:
        code = stop.code
    finally:
        os.chdir(cwd)
        sys.argv = argv
        os.environ.clear()
        os.environ.update(environ)
        random.setstate(rng[0])
        np.random.set_state(rng[1])
        torch.set_rng_state(rng[2])
        torch.use_deterministic_algorithms(flags[0], warn_only=flags[1])
        torch.backends.cudnn.benchmark = flags[2]
    return code, stderr.getvalue()
