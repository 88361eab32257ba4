"""The stage scripts, one per pipeline stage, each run as `python -m stages.<name>` by dvc.yaml.

Python imports this package before the stage's own (slow) imports: a stage run as a script handles
stop signals from here on, so Ctrl-C or SIGTERM at any moment ends it with one line (lib.errors). DVC
runs each command with the `python` first on PATH: one without the project's packages (the virtual
environment not activated) stops here with one line saying so. Importing a stage (the tests do) installs
nothing."""
import importlib.util
import sys

from lib import errors

if sys.argv[:1] == ["-m"]:  # what `python -m stages.<name>` shows while it imports this package
    errors.handle_stop_signals()
    missing = [name for name in ("torch", "dvclive", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(f"error: this Python ({sys.executable}), the `python` first on PATH, lacks the project's packages "
                 f"({', '.join(missing)}): activate the project's environment first (source .venv/bin/activate), "
                 "then run dvc again")
