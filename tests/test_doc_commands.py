"""Every command line the README and docs/ show is one the project accepts: each `dvc` command parses
with DVC's own argument parser (its subcommand and options exist), each `python -m` module and script
exists, each `make` target is in the Makefile. The end-to-end tests run the flows themselves (the
demo's and the test suite's pipeline, experiments, remotes, the seed sweep and its records)."""
import glob
import importlib.util
import os
import re
import shlex

import pytest
from dvc.cli import DvcParserError, parse_args

from conftest import ROOT

PAGES = ["README.md", *sorted(p for p in glob.glob("docs/*.md", root_dir=ROOT) if p != "docs/results.md")]


def command_blocks(text):
    """The indented code blocks of a markdown page, continuation lines joined."""
    lines = [line[4:] for line in text.splitlines() if line.startswith("    ") and not line.startswith("     |")]
    return re.sub(r"\s*\\\n\s*", " ", "\n".join(lines)).splitlines()


def commands(line):
    """The simple commands of a shell line (quotes respected, comments and `for ... in ...;` heads
    dropped, a $(...) substitution as one word X, a variable's $ dropped), split at ; && || | ."""
    lexer = shlex.shlex(re.sub(r"\$\([^)]*\)", "X", line), posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    out, words = [], []
    for token in [*lexer, ";"]:
        if token.strip(";&|"):
            words.append(re.sub(r"\$(?=[A-Za-z_{])", "", token))  # $k -> k; a regex's closing $ stays
            continue
        if words and words[0] == "do":
            words = words[1:]
        if words and words[0] != "for":
            out.append(words)
        words = []
    return out


def documented():
    found = []
    for page in PAGES:
        with open(os.path.join(ROOT, page)) as f:
            for line in command_blocks(f.read()):
                for words in commands(line):
                    found.append((page, words))
    return found


def is_command(words):
    return words[0] in ("dvc", ".venv/bin/dvc", "make", "python", ".venv/bin/python")


CASES = [(page, words) for page, words in documented() if is_command(words)]


def test_the_pages_show_commands_of_every_kind():
    kinds = {os.path.basename(words[0]) for _, words in CASES}
    assert kinds == {"dvc", "make", "python"}, kinds
    assert len(CASES) >= 40, len(CASES)


@pytest.mark.parametrize("page, words", CASES, ids=[f"{p}:{' '.join(w)[:60]}" for p, w in CASES])
def test_a_documented_command_is_accepted(page, words):
    tool, args = os.path.basename(words[0]), words[1:]
    if tool == "dvc":
        try:
            parse_args(args)
        except DvcParserError:
            pytest.fail(f"{page}: `{' '.join(words)}` is not a valid dvc command")
    elif tool == "make":
        with open(os.path.join(ROOT, "Makefile")) as f:
            targets = set(re.findall(r"^([\w-]+):", f.read(), re.M))
        named = [a for a in args if "=" not in a]
        assert named and set(named) <= targets, f"{page}: `{' '.join(words)}` names no Makefile target"
    elif args[0] == "-m":
        assert importlib.util.find_spec(args[1]) is not None, f"{page}: no module {args[1]}"
    else:
        assert os.path.isfile(os.path.join(ROOT, args[0])), f"{page}: no script {args[0]}"


def test_the_parser_of_this_test_splits_as_a_shell_would():
    assert commands("for k in 0 1; do dvc exp apply a$k && python -m tools.x --seed $k; done  # note") == [
        ["dvc", "exp", "apply", "ak"], ["python", "-m", "tools.x", "--seed", "k"], ["done"]]
    assert commands("dvc plots diff $(dvc exp ls --name-only)   # two") == [["dvc", "plots", "diff", "X"]]
    assert commands("dvc exp show --keep 'a|b' --md | head") == [["dvc", "exp", "show", "--keep", "a|b", "--md"],
                                                                 ["head"]]
    assert command_blocks("text\n\n    make a B=1 \\\n      C=2\n    dvc x\n") == ["make a B=1 C=2", "dvc x"]
    with pytest.raises(DvcParserError):
        parse_args(["exp", "run", "--no-such-option"])
