"""User-facing errors: one paragraph naming the key or file, the value and what is allowed."""
import sys
import textwrap


class UserError(Exception):
    """A problem with the user's input (params, files, environment), not a bug."""


def run(main):
    """Run a stage's main(); a UserError becomes a one-paragraph message and exit code 1."""
    try:
        main()
    except UserError as err:
        print("\n" + textwrap.fill(f"error: {err}", width=100), file=sys.stderr)
        sys.exit(1)
