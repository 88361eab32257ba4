"""The stage scripts, one per pipeline stage, each run as `python -m stages.<name>` by dvc.yaml.

Python imports this package before the stage's own (slow) imports: a stage run as a script handles
stop signals from here on, so Ctrl-C or SIGTERM at any moment ends it with one line (lib.errors).
Importing a stage (the tests do) installs nothing."""
import sys

from lib import errors

if sys.argv[:1] == ["-m"]:  # what `python -m stages.<name>` shows while it imports this package
    errors.handle_stop_signals()
