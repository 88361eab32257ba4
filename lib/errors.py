"""User-facing errors: one paragraph naming the key or file, the value and what is allowed."""
import contextlib
import sys
import textwrap


class UserError(Exception):
    """A problem with the user's input (params, files, environment), not a bug."""


@contextlib.contextmanager
def param(key):
    """Name the params.yaml entry behind the values used in the block: a UserError raised inside (by
    lib code, which knows nothing of params.yaml) comes out as `params.yaml: <key>: <message>`."""
    try:
        yield
    except UserError as err:
        raise UserError(f"params.yaml: {key}: {err}") from err


def run(main):
    """Run a stage's main(); a UserError becomes a one-paragraph message and exit code 1, Ctrl-C one
    line and exit code 130 (outputs are written atomically, so none is left half-written)."""
    try:
        main()
    except UserError as err:
        print("\n" + textwrap.fill(f"error: {err}", width=100), file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("\ninterrupted (Ctrl-C); each output is written whole or not at all: run it again (dvc repro)",
              file=sys.stderr)
        sys.exit(130)
