"""Reproducibility: `dvc repro -f` of the tiny configuration, in the same repo on the same (CPU) machine,
rebuilds every artifact byte for byte, except what measures wall-clock time:
  - reports/timing.json (the timing stage's output: nothing but times);
  - the speedup key of the DVC metrics files (TIMING_KEYS below, and nothing else);
  - the latency and speedup columns of reports/comparison.md.
Data splits, models (.pth), the other JSON results, dvclive's curves and the figures (PNG) are
byte-identical."""
import filecmp
import json
import shutil

import torch

from lib.io import save_torch
from test_pipeline import STAGES, dvc, ran

OUTPUT_DIRS = ["data", "models", "reports"]
TIMING_KEYS = {"speedup"}  # of the DVC metrics files reports/metrics/*.json
TIMING_COLUMNS = {"latency (ms)", "speedup"}  # of reports/comparison.md


def files(root):
    return sorted(p.relative_to(root).as_posix() for d in OUTPUT_DIRS for p in (root / d).rglob("*") if p.is_file())


def differing_keys(a, b, prefix=""):
    """Dotted keys whose values differ between two nested JSON objects."""
    if isinstance(a, dict) and isinstance(b, dict):
        return set().union(*[differing_keys(a.get(k), b.get(k), f"{prefix}{k}.") for k in a.keys() | b.keys()])
    return set() if a == b else {prefix.rstrip(".")}


def markdown_table(path, drop):
    """The table's rows as lists of cells, without the columns in `drop`."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in path.read_text().splitlines()]
    keep = [i for i, header in enumerate(rows[0]) if header not in drop]
    return [[row[i] for i in keep] for row in rows]


def test_forced_rerun_is_identical(tiny_repo, tmp_path):
    assert "Data and pipelines are up to date" in dvc(tiny_repo, "status")
    first = tmp_path / "first"
    for d in OUTPUT_DIRS:
        shutil.copytree(tiny_repo / d, first / d)

    assert ran(dvc(tiny_repo, "repro", "-f")) == STAGES

    assert files(tiny_repo) == files(first)
    unexpected = []
    for name in files(first):
        before, after = first / name, tiny_repo / name
        if filecmp.cmp(before, after, shallow=False):
            continue
        if name == "reports/timing.json":
            continue
        if name.startswith("reports/metrics/") and name.endswith(".json"):
            keys = differing_keys(json.loads(before.read_text()), json.loads(after.read_text()))
            if not keys <= TIMING_KEYS:
                unexpected.append(f"{name}: keys {sorted(keys - TIMING_KEYS)}")
        elif name == "reports/comparison.md":
            if markdown_table(before, TIMING_COLUMNS) != markdown_table(after, TIMING_COLUMNS):
                unexpected.append(f"{name}: columns other than {sorted(TIMING_COLUMNS)}")
        else:
            unexpected.append(name)
    assert not unexpected, f"not reproduced by `dvc repro -f`: {unexpected}"


def test_saved_tensors_do_not_depend_on_the_file_name(tmp_path):
    """lib.io.save_torch writes the same bytes for the same object whatever the (temporary) file name."""
    obj = {"state_dict": {"w": torch.arange(6.0).view(2, 3)}, "architecture": {"filters": [8, 16]}}
    save_torch(obj, str(tmp_path / "a.pth"))
    save_torch(obj, str(tmp_path / "b" / "other_name.pth"))
    assert (tmp_path / "a.pth").read_bytes() == (tmp_path / "b" / "other_name.pth").read_bytes()
