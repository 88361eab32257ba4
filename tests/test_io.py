"""lib.io: what it writes does not depend on where it writes it (atomic writes: test_interrupted)."""
import os

import torch

from lib.io import save_json, save_torch


def test_saved_tensors_do_not_depend_on_the_file_name(tmp_path):
    """lib.io.save_torch writes the same bytes for the same object whatever the (temporary) file name."""
    obj = {"state_dict": {"w": torch.arange(6.0).view(2, 3)}, "architecture": {"filters": [8, 16]}}
    save_torch(obj, str(tmp_path / "a.pth"))
    save_torch(obj, str(tmp_path / "b" / "other_name.pth"))
    assert (tmp_path / "a.pth").read_bytes() == (tmp_path / "b" / "other_name.pth").read_bytes()


def test_a_save_reaches_the_disk_before_and_after_its_rename(tmp_path, monkeypatch):
    """The file's bytes are fsync'd before the rename makes them the output, and the folder after it, so
    a power cut leaves the previous file or the new one, whole."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))),
                                                 real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda src, dst: (events.append(("replace", str(dst))), real_replace(src, dst)))
    path = tmp_path / "out" / "metrics.json"
    save_json({"accuracy": 1.0}, str(path))
    assert [e[0] for e in events] == ["fsync", "replace", "fsync"], events
    assert os.path.basename(events[0][1]).startswith(".tmp-") and os.path.dirname(events[0][1]) == str(path.parent)
    assert events[1][1] == str(path) and events[2][1] == str(path.parent)
