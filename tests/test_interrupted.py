"""Interrupted runs: outputs are written to a temporary name in their folder and
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

from lib import errors, io
from lib.errors import STOP_SIGNALS, stopped_line
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
from lib import errors, io
from lib.errors import STOP_SIGNALS, stopped_line

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
    """The real finetune stage, killed while it trains: the previous model is untouched and no temporary
    file appears anywhere."""
    folder = make_project(tmp_path / "project")
    set_params(folder, lambda p: p["finetune"].update(epochs=100_000))  # far more than the test waits for
    model, live = folder / "models/vgg11_cifar10_finetuned.pth", folder / "reports/live/finetune"
    before = snapshot(folder)
    proc = start_stage(folder)
    try:
        wait_until_training(proc, live)
    finally:
        proc.kill()
        proc.wait(timeout=60)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    after = snapshot(folder)
    assert after[model.relative_to(folder).as_posix()] == before[model.relative_to(folder).as_posix()]
    outside_live = {p: h for p, h in after.items() if not p.startswith("reports/live/finetune/")}
    assert outside_live == {p: h for p, h in before.items() if not p.startswith("reports/live/finetune/")}
    assert not [p for p in after if os.path.basename(p).startswith(".tmp-")]


def default_signals():
    """Give the child the default disposition of every stop signal, as a terminal's foreground job has
    it, however this test was started: a parent launched in the background (`make test &`, `nohup`)
    passes SIGINT on as ignored, and a stage rightly keeps ignoring it (see the next test)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def start_stage(folder, preexec_fn=default_signals):
    env = {**stage_env(), "PYTHONFAULTHANDLER": "1"}  # a SIGABRT dumps every thread's stack (if one hangs)
    return subprocess.Popen(stage_command("finetune"), cwd=folder, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn)


def wait_until_training(proc, live):
    deadline = time.monotonic() + 120
    while not (live / "plots/metrics/train/loss.tsv").exists():  # an epoch is done: it is training
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the stage did not start training in time"
        time.sleep(0.1)


def catches(pid, signum):
    """Whether process `pid` has a handler installed for `signum` (Linux: SigCgt in /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status") as f:
        caught = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
    return bool(caught >> (signum - 1) & 1)


def stop_and_wait(proc, signum):
    """Send `signum`; the stage's stderr once it has ended."""
    proc.send_signal(signum)
    try:
        return proc.communicate(timeout=180)[1]  # seconds when idle; generous for a loaded machine
    except subprocess.TimeoutExpired:  # show where every thread is
        proc.send_signal(signal.SIGABRT)
        pytest.fail(f"the stage did not end within 180 s of signal {signum}; its stderr, then its threads' stacks:\n"
                    + proc.communicate(timeout=30)[1])


def ends_with_one_line(proc, stderr, signum):
    lines = [line for line in stderr.splitlines() if line.strip()]
    return proc.returncode == 128 + signum and lines == [stopped_line(signum)]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_during_training_ends_with_one_line(tmp_path, signum):
    """Ctrl-C (SIGINT) or SIGTERM while the real finetune stage trains: one line saying so, no traceback,
    exit code 130 or 143, the previous model untouched and no temporary file anywhere."""
    folder = make_project(tmp_path / "project")
    set_params(folder, lambda p: p["finetune"].update(epochs=100_000))
    model, live = folder / "models/vgg11_cifar10_finetuned.pth", folder / "reports/live/finetune"
    previous = model.read_bytes()
    proc = start_stage(folder)
    try:
        wait_until_training(proc, live)
        stderr = stop_and_wait(proc, signum)
    finally:
        proc.kill()
    assert ends_with_one_line(proc, stderr, signum), (proc.returncode, stderr)
    said = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "terminated (SIGTERM)"}[signum]  # written out
    assert stderr.strip() == f"{said}; each output is written whole or not at all: run it again (dvc repro)"
    assert model.read_bytes() == previous
    assert not [p for p in snapshot(folder) if os.path.basename(p).startswith(".tmp-")]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_while_the_stage_imports_ends_with_one_line(tmp_path, signum):
    """The same signal in the stage's first moment, once `stages` has installed its handlers and while
    the stage still imports torch: one line and the exit code, not a traceback."""
    folder = make_project(tmp_path / "project")
    proc = start_stage(folder)
    try:
        while not catches(proc.pid, signal.SIGTERM):
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.001)
        stderr = stop_and_wait(proc, signum)
    finally:
        proc.kill()
    assert ends_with_one_line(proc, stderr, signum), (proc.returncode, stderr)
    assert "Traceback" not in stderr


def test_a_stage_started_in_the_background_keeps_ignoring_ctrl_c(tmp_path):
    """A stage whose parent ignores SIGINT (a background job, `nohup`) inherits that and keeps it, as
    POSIX means it to: a terminal's Ctrl-C is not for background jobs. SIGTERM still stops it."""
    folder = make_project(tmp_path / "project")
    set_params(folder, lambda p: p["finetune"].update(epochs=100_000))
    proc = start_stage(folder, lambda: (default_signals(), signal.signal(signal.SIGINT, signal.SIG_IGN)))
    try:
        wait_until_training(proc, folder / "reports/live/finetune")
        proc.send_signal(signal.SIGINT)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=3)
        stderr = stop_and_wait(proc, signal.SIGTERM)
    finally:
        proc.kill()
    assert ends_with_one_line(proc, stderr, signal.SIGTERM), (proc.returncode, stderr)


def test_stopping_a_stage_in_process_puts_the_handlers_back():
    """lib.errors.run installs its handlers for the stage's main only: in-process runs (the bad-input
    tests) leave the test process's own handlers as they were."""
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}

    def main():
        assert all(signal.getsignal(s) not in (before[s], signal.SIG_DFL) for s in STOP_SIGNALS
                   if before[s] is not signal.SIG_IGN)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)  # the handler raises before this ends

    with pytest.raises(SystemExit) as stop:
        errors.run(main)
    assert stop.value.code == 143
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before
