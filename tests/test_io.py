"""lib.io: what it writes does not depend on where it writes it (atomic writes: test_interrupted)."""
import torch

from lib.io import save_torch


def test_saved_tensors_do_not_depend_on_the_file_name(tmp_path):
    """lib.io.save_torch writes the same bytes for the same object whatever the (temporary) file name."""
    obj = {"state_dict": {"w": torch.arange(6.0).view(2, 3)}, "architecture": {"filters": [8, 16]}}
    save_torch(obj, str(tmp_path / "a.pth"))
    save_torch(obj, str(tmp_path / "b" / "other_name.pth"))
    assert (tmp_path / "a.pth").read_bytes() == (tmp_path / "b" / "other_name.pth").read_bytes()
