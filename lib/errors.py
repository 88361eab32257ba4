"""User-facing errors and stops: a problem with the user's input is one paragraph naming the key or
file, the value and what is allowed; a stop signal is one line and the shell's exit code for it."""
import contextlib
import os
import signal
import sys
import textwrap
import warnings


LIB = os.path.dirname(os.path.abspath(__file__)) + os.sep
TORCH_WRAPPERS = os.path.join("torch", "utils", "_contextlib.py")  # torch.no_grad()'s decorator


def warn(message):
    """warnings.warn attributed to the first frame outside lib/ (and torch.no_grad's decorator): the stage or
    test that asked for what the warning is about, however deep in lib it was found."""
    frame, level = sys._getframe(1), 2  # level 2: the function that called warn
    while frame is not None and (frame.f_code.co_filename.startswith(LIB)
                                 or frame.f_code.co_filename.endswith(TORCH_WRAPPERS)):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, stacklevel=level)


class UserError(Exception):
    """A problem with the user's input (params, files, environment), not a bug."""


class Diverged(UserError):
    """Training produced a loss that is not finite (NaN or infinite)."""


@contextlib.contextmanager
def param(key, kind=UserError):
    """Name the params.yaml entry behind the values used in the block: a UserError (or only one of `kind`)
    raised inside (by lib code, which knows nothing of params.yaml) comes out as `params.yaml: <key>:
    <message>`."""
    try:
        yield
    except kind as err:
        raise UserError(f"params.yaml: {key}: {err}") from err


# The signals that ask a process to stop: Ctrl-C in a terminal, what `kill`, schedulers, CI time-outs
# and container runtimes send, and a terminal closed (no SIGHUP on Windows). Exit codes follow the
# shell's 128 + number.
STOP_SIGNALS = {getattr(signal, name): line for name, line in [
    ("SIGINT", "interrupted (Ctrl-C)"), ("SIGTERM", "terminated (SIGTERM)"), ("SIGHUP", "hung up (SIGHUP)")]
    if hasattr(signal, name)}


class Stopped(KeyboardInterrupt):
    """A stop signal received while a stage works, raised in the main thread like Ctrl-C's
    KeyboardInterrupt, so every `finally` on the way out runs (lib.io removes its temporary files)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def stopped_line(signum):
    return f"{STOP_SIGNALS[signum]}; each output is written whole or not at all: run it again (dvc repro)"


def _exit_now(signum, frame):
    """Before a stage's work begins (its imports) nothing is open or half-written: leave at once
    (os.write: the signal may have cut a print to stderr short, and Python's files are not reentrant)."""
    os.write(sys.stderr.fileno(), f"\n{stopped_line(signum)}\n".encode())
    os._exit(128 + signum)


def _raise_stopped(signum, frame):
    """While a stage works: unwind like Ctrl-C. Further stop signals are ignored from here on, so a
    second Ctrl-C cannot cut the clean-up short (it takes milliseconds)."""
    handle_stop_signals(signal.SIG_IGN)
    raise Stopped(signum)


def handle_stop_signals(handler=_exit_now):
    """Install `handler` for every stop signal, except one the process inherited as ignored: a job
    started in the background (`cmd &`, `nohup`) ignores SIGINT by the POSIX convention that keeps a
    terminal's Ctrl-C from it, and keeps ignoring it. Returns the previous handlers."""
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum, old in previous.items():
        if old is not signal.SIG_IGN:
            signal.signal(signum, handler)
    return previous


def run(main):
    """Run a stage's main(); a UserError becomes a one-paragraph message and exit code 1, a stop signal
    (Ctrl-C, SIGTERM, SIGHUP) one line and exit code 128 + its number (130, 143, 129). Outputs are
    written atomically, so none is left half-written."""
    previous = handle_stop_signals(_raise_stopped)
    try:
        main()
    except UserError as err:
        print("\n" + textwrap.fill(f"error: {err}", width=100), file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as stop:  # Stopped, or Python's own KeyboardInterrupt
        signum = getattr(stop, "signum", signal.SIGINT)
        print("\n" + stopped_line(signum), file=sys.stderr)
        sys.exit(128 + signum)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
