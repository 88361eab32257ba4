"""Stop signals at random moments (slow; not part of `make test`).

Starts the real finetune stage (its dvc.yaml command, in a tiny project whose training never ends) again
and again, and sends one SIGINT or SIGTERM (chosen at random) after a random delay drawn uniformly from
the start of the process to a little past the end of its first epoch: Python's start, the imports, the
data and model set-up, training steps and dvclive's writes. A try is clean when the stage exits with
128 + the signal's number, prints exactly its one line, and leaves every previous output byte-identical
with no temporary file (the training curves folder, rewritten epoch by epoch, aside).

    .venv/bin/python tests/stress_signals.py --tries 50 --seed 0
"""
import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tiny_project import make_project, set_params, snapshot, stage_command, stage_env  # puts the project on sys.path
from lib.errors import STOP_SIGNALS, stopped_line

LIVE = "reports/live/finetune/"


def default_signals():
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def start(folder):
    return subprocess.Popen(stage_command("finetune"), cwd=folder, env=stage_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)


def first_epoch_seconds(folder):
    """Seconds from the process's start to the end of its first epoch (the loss curve's first row)."""
    began, proc = time.monotonic(), start(folder)
    while not (folder / LIVE / "plots/metrics/train/loss.tsv").exists():
        if proc.poll() is not None:
            sys.exit(f"the stage ended before its first epoch:\n{proc.stderr.read()}")
        time.sleep(0.01)
    seconds = time.monotonic() - began
    proc.kill()
    proc.communicate()
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    folder = make_project(Path(tempfile.mkdtemp(prefix="stress-signals-")) / "project")
    set_params(folder, lambda p: p["finetune"].update(epochs=100_000))  # never finishes by itself
    horizon = 1.2 * first_epoch_seconds(folder)
    before = {path: digest for path, digest in snapshot(folder).items() if not path.startswith(LIVE)}
    print(f"first epoch ends {horizon / 1.2:.1f} s after the start; delays drawn from [0, {horizon:.1f}] s")
    clean = 0
    for i in range(args.tries):
        signum, delay = rng.choice([signal.SIGINT, signal.SIGTERM]), rng.uniform(0, horizon)
        proc = start(folder)
        time.sleep(delay)
        proc.send_signal(signum)
        try:
            stderr = proc.communicate(timeout=120)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            stderr = proc.communicate()[1] + "\n(still running 120 s after the signal: killed)"
        after = {path: digest for path, digest in snapshot(folder).items() if not path.startswith(LIVE)}
        lines = [line for line in stderr.splitlines() if line.strip()]
        problems = [what for what, bad in [
            (f"exit code {proc.returncode}, not {128 + signum}", proc.returncode != 128 + signum),
            (f"stderr is not the one line: {stderr!r}", lines != [stopped_line(signum)]),
            ("a previous output changed, or a file appeared", after != before)] if bad]
        clean += not problems
        print(f"{i + 1:3d} {signal.Signals(signum).name:7s} at {delay:5.2f} s: "
              + ("clean" if not problems else "; ".join(problems)), flush=True)
    print(f"{clean} of {args.tries} clean exits")
    sys.exit(0 if clean == args.tries else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
