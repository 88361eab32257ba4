"""Interrupted runs (issue 6, item 5): outputs are written to a temporary name in their folder and
renamed into place (lib.io), so no partial file ever appears at an output path.

What an interruption may leave behind, by kind:
- an exception or Ctrl-C (KeyboardInterrupt) during a save: nothing; the temporary file is removed
  and a previous file at the output path is untouched;
- SIGKILL (or a power cut) during a save: the previous file, untouched, plus the temporary file
  `.tmp-*<ext>` beside it, which nothing could remove (ignored by git; delete it at will);
- SIGKILL during the work before the saves (a stage spends nearly all its time there): the
  previous outputs, untouched, and no temporary file. The training curves folder
  (reports/live/<stage>, dvclive) is the exception by design: it is rewritten epoch by epoch so a
  run can be watched, and holds the epochs finished. `dvc repro` deletes a stage's outputs before
  running it anyway, and records nothing in dvc.lock for a stage that did not finish."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from matplotlib.figure import Figure

from lib import io
from tiny_project import make_project, set_params, snapshot, stage_command, stage_env

PREVIOUS = b"the previous run's output\n"


def write_some_then_interrupt(target):
    """Write a few bytes to `target` (a path or an open file), as a save cut short would, and raise."""
    if isinstance(target, (str, os.PathLike)):
        with open(target, "wb") as f:
            f.write(b"partial")
    else:
        target.write(b"partial" if "b" in getattr(target, "mode", "b") else "partial")
    raise KeyboardInterrupt


def interrupting(monkeypatch, kind):
    """Patch the library call behind lib.io's `kind` writer; return a call of that writer."""
    if kind == "torch":
        monkeypatch.setattr(torch, "save", lambda obj, f, *args, **kwargs: write_some_then_interrupt(f))
        return lambda path: io.save_torch({"weights": torch.zeros(3)}, str(path))
    if kind == "json":
        monkeypatch.setattr(json, "dump", lambda obj, f, *args, **kwargs: write_some_then_interrupt(f))
        return lambda path: io.save_json({"accuracy": 1.0}, str(path))
    fig = Figure()
    monkeypatch.setattr(fig, "savefig", lambda f, *args, **kwargs: write_some_then_interrupt(f))
    return lambda path: io.save_figure(fig, str(path))


@pytest.mark.parametrize("kind,name", [("torch", "model.pth"), ("json", "metrics.json"), ("figure", "plot.png")])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_interrupted_save_leaves_no_partial_file(tmp_path, monkeypatch, kind, name, existing):
    path = tmp_path / "out" / name
    if existing:
        path.parent.mkdir()
        path.write_bytes(PREVIOUS)
    save = interrupting(monkeypatch, kind)
    with pytest.raises(KeyboardInterrupt):
        save(path)
    assert os.listdir(path.parent) == ([name] if existing else [])  # no temporary file left either
    if existing:
        assert path.read_bytes() == PREVIOUS


def test_completed_save_replaces_the_file(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_bytes(PREVIOUS)
    io.save_json({"accuracy": 1.0}, str(path))
    assert json.loads(path.read_text()) == {"accuracy": 1.0} and os.listdir(tmp_path) == ["metrics.json"]


KILLED_MID_SAVE = """
import os, signal, sys, torch
sys.path.insert(0, {root!r})
from lib import io

def save_half_then_die(obj, f, *args, **kwargs):
    f = open(f, "wb") if isinstance(f, (str, os.PathLike)) else f
    f.write(b"partial" * 1000)
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)

torch.save = save_half_then_die
io.save_torch({{"weights": torch.zeros(3)}}, {path!r})
"""


def test_sigkill_mid_save_leaves_only_a_temporary_file(tmp_path):
    """No finally block runs on SIGKILL: the temporary file stays, the output path is untouched."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = tmp_path / "models" / "model.pth"
    path.parent.mkdir()
    path.write_bytes(PREVIOUS)
    script = KILLED_MID_SAVE.format(root=root, path=str(path))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert path.read_bytes() == PREVIOUS
    leftovers = sorted(set(os.listdir(path.parent)) - {"model.pth"})
    assert len(leftovers) == 1 and leftovers[0].startswith(".tmp-") and leftovers[0].endswith(".pth")


def test_sigkill_during_training_leaves_previous_outputs_intact(tmp_path):
    """The real finetune stage, killed while it trains: the previous model is untouched, the metrics
    file that did not exist still does not, and no temporary file appears anywhere."""
    folder = make_project(tmp_path / "project")
    set_params(folder, lambda p: p["finetune"].update(epochs=100_000))  # far more than the test waits for
    model, metrics, live = (folder / "models/vgg11_cifar10_finetuned.pth", folder / "reports/eval/finetune.json",
                            folder / "reports/live/finetune")
    metrics.unlink()
    before = snapshot(folder)
    proc = subprocess.Popen(stage_command("finetune"), cwd=folder, env=stage_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (live / "plots/metrics/train/loss.tsv").exists():  # an epoch is done: it is training
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the stage did not start training in time"
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.wait(timeout=60)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    after = snapshot(folder)
    assert not metrics.exists()
    assert after[model.relative_to(folder).as_posix()] == before[model.relative_to(folder).as_posix()]
    outside_live = {p: h for p, h in after.items() if not p.startswith("reports/live/finetune/")}
    assert outside_live == {p: h for p, h in before.items() if not p.startswith("reports/live/finetune/")}
    assert not [p for p in after if os.path.basename(p).startswith(".tmp-")]


def test_ctrl_c_during_training_ends_with_one_line(tmp_path):
    """Ctrl-C (SIGINT) while the real finetune stage trains: one line saying so, no traceback, exit code
    130, and the previous model untouched."""
    folder = make_project(tmp_path / "project")
    set_params(folder, lambda p: p["finetune"].update(epochs=100_000))
    model, live = folder / "models/vgg11_cifar10_finetuned.pth", folder / "reports/live/finetune"
    previous = model.read_bytes()
    env = {**stage_env(), "PYTHONFAULTHANDLER": "1"}  # a SIGABRT dumps every thread's stack (for the hang below)
    proc = subprocess.Popen(stage_command("finetune"), cwd=folder, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (live / "plots/metrics/train/loss.tsv").exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the stage did not start training in time"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        try:
            stderr = proc.communicate(timeout=180)[1]  # seconds when idle; generous for a loaded machine
        except subprocess.TimeoutExpired:  # seen twice in many runs, stderr empty: show where every thread hangs
            proc.send_signal(signal.SIGABRT)
            pytest.fail("the stage did not end within 180 s of one SIGINT; its stderr, then its threads' stacks:\n"
                        + proc.communicate(timeout=30)[1])
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == ["interrupted (Ctrl-C); each output is written whole or not at all: run it again (dvc repro)"], \
        stderr
    assert model.read_bytes() == previous
