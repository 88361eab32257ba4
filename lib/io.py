"""Atomic, durable writes: every artifact goes to a temporary name in its folder, is flushed to disk
(fsync), renamed into place, and the folder flushed too, so neither an interrupted stage nor a power
cut leaves a half-written file at an output path. Safe reads: tensors and
plain data only (torch.load(weights_only=True)); a missing or damaged file is a UserError naming it."""
import contextlib
import json
import os
import re
import tempfile

import torch

from lib.errors import UserError

_UMASK = os.umask(0o022)  # read the process umask (os.umask can only set it) and put it back
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to `path`; rename it to `path` only if the block succeeds."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    suffix = os.path.splitext(path)[1]  # keep the extension: matplotlib picks the format from it
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give outputs the usual permissions
        fsync(tmp)  # the bytes on disk before a name points to them
        os.replace(tmp, path)
        fsync(folder)  # and the rename itself
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def fsync(path):
    """Flush a file's (or a folder's entries') data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_torch(obj, path):
    # Through a file object: given a file name, torch.save names the zip's root folder after it (here
    # the random temporary name), so the same tensors would give different bytes on every run.
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)


def save_json(obj, path):
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def save_text(text, path):
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text)


def save_figure(fig, path, dpi=150):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")


def _require(path, what):
    if not os.path.isfile(path):
        raise UserError(f"{what} {path} does not exist; run the stage that writes it (dvc repro) or fetch it "
                        "from the remote (dvc pull)")


def load_json(path, what="file", keys=()):
    """The JSON in `path`; with `keys`, it must be an object holding them."""
    _require(path, what)
    try:
        with open(path) as f:
            data = json.load(f)
    except (ValueError, OSError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise UserError(f"cannot read {what} {path}: it is not valid JSON ({err}); regenerate it with the stage "
                        "that writes it (dvc repro)") from err
    missing = [k for k in keys if k not in data] if isinstance(data, dict) else list(keys)
    if missing:
        raise UserError(f"{what} {path} lacks {', '.join(missing)}; expected a JSON object with "
                        f"{', '.join(keys)}, as the stage that writes it produces (dvc repro)")
    return data


def load_torch(path, what="file"):
    """torch.load(path, weights_only=True) on the CPU: tensors, dicts, lists, numbers and strings only.
    A file holding pickled Python objects (which could run code on load) is refused."""
    _require(path, what)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a damaged file raises many types: RuntimeError, EOFError, KeyError, struct.error...
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        pickled = re.search(r"GLOBAL (\S+)", str(err))
        if pickled:
            raise UserError(f"refusing to load {what} {path}: it holds pickled Python objects ({pickled[1]}), "
                            "which could run code on load; this project's files hold only tensors and plain data "
                            "(dicts, lists, numbers, strings). Regenerate it (dvc repro) or fetch it (dvc pull); "
                            "never load it with weights_only=False") from err
        # torch wraps its reason in advice that does not apply here (weights_only=False...): keep its first sentence
        reason = lines[-2] if "Weights only load failed" in str(err) and len(lines) > 2 else "".join(lines[:1])
        detail = type(err).__name__ + (f": {reason.split('. ')[0][:200]}" if reason else "")
        raise UserError(f"cannot read {what} {path}: the file is truncated, corrupt or not a PyTorch file of plain "
                        f"data ({detail}); regenerate it (dvc repro) or fetch it (dvc pull)") from err


def named_paths(items, flag):
    """{name: path}, in their order, from the NAME=PATH values of a repeated command-line flag (a stage that
    takes every variant)."""
    if not all("=" in item and item.split("=", 1)[0] and item.split("=", 1)[1] for item in items):
        raise UserError(f"{flag} takes NAME=PATH, got {items}")
    return dict(item.split("=", 1) for item in items)
