import json

import pytest

from lib import report
from lib.errors import UserError

BASE = {"val_accuracy": 90.0, "test_accuracy": 89.0, "test_loss": 0.4, "params": 1000, "nonzero_params": 1000,
        "size_bytes": 4_000_000, "macs": 2_000_000, "latency_ms": 2.0, "throughput_ips": 500.0}


def write_metrics(folder, variants):
    paths = {}
    for name, metrics in variants.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps(metrics))
    return {k: str(v) for k, v in paths.items()}


def test_missing_metrics_file_is_a_clear_error(tmp_path):
    paths = write_metrics(tmp_path, {"original": BASE})
    paths["unstructured"] = str(tmp_path / "unstructured.json")
    with pytest.raises(UserError, match=r"unstructured\.json for variant 'unstructured' is missing"):
        report.load_metrics(paths)


def test_table_rows_and_figure(tmp_path):
    pruned = {**BASE, "test_accuracy": 87.5, "nonzero_params": 100, "sparse_size_bytes": 800_000,
              "latency_speedup": 1.01}
    small = {**BASE, "test_accuracy": 88.0, "params": 300, "nonzero_params": 300, "size_bytes": 1_200_000,
             "macs": 700_000, "latency_speedup": 2.5}
    metrics = report.load_metrics(write_metrics(tmp_path, {"original": BASE, "unstructured": pruned,
                                                          "structured": small}))
    agreement = {"unstructured": {"cam_correlation_mean": 0.9, "topk_iou_mean": 0.8, "prediction_agreement": 0.95}}
    table = report.rows(metrics, agreement)
    assert [r["test_accuracy_drop"] for r in table] == [0.0, 1.5, 1.0]
    text = report.markdown(table)
    tables = [part.strip().splitlines()[2:] for part in text.split("## ")[1:]]  # each table's lines, no title
    for lines, columns in zip(tables, report.TABLES.values()):
        assert len(lines) == 2 + 3 and all(line.count("|") == len(columns) + 1 for line in lines)
        assert max(len(line) for line in lines) <= 120
    assert "| unstructured | 87.50 | - | - | - | 100 | 0.80 | 2.0 |" in text
    assert "0.900" in tables[2][3] and tables[2][4].endswith("| - | - | - |")  # no agreement for 'structured'
    report.figure(table, str(tmp_path / "comparison.png"))
    assert (tmp_path / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rows_put_each_variant_beside_its_controls(tmp_path):
    pruned = {**BASE, "test_accuracy": 87.5, "effective_macs": 100_000}
    dense = {**BASE, "test_accuracy": 89.25}
    metrics = report.load_metrics(write_metrics(tmp_path, {"original": BASE, "unstructured": pruned,
                                                          "dense_extra": dense}))
    table = report.rows(metrics, {}, {"unstructured": {"dense_extra": "dense_extra"}})
    assert table[1]["vs_dense_extra"] == -1.75 and "vs_dense_extra" not in table[0] and "vs_scratch" not in table[1]
    text = report.markdown(table)
    assert "| -1.75 |" in text and "| 0.1 |" in text  # the gap, and the MACs on nonzero weights (M)


def test_timing_joins_the_rows_and_the_summary_is_the_dvc_metrics(tmp_path):
    pruned = {**BASE, "test_accuracy": 87.5, "nonzero_params": 100, "sparse_size_bytes": 800_000}
    dense = {**BASE, "test_accuracy": 89.25}
    metrics = report.load_metrics(write_metrics(tmp_path, {"original": BASE, "unstructured": pruned,
                                                          "dense_extra": dense}))
    timing = {"original": {"latency_ms": 2.0, "latency_speedup": 1.0},
              "unstructured": {"latency_ms": 2.2, "latency_speedup": 2.0 / 2.2},
              "dense_extra": {"latency_ms": 1.9, "latency_speedup": 2.0 / 1.9}}
    agreement = {"unstructured": {"cam_correlation_mean": 0.91234}}
    table = report.rows(metrics, agreement, {"unstructured": {"dense_extra": "dense_extra"}}, timing)
    assert [r["latency_ms"] for r in table] == [2.0, 2.2, 1.9]
    assert report.summary(table[1]) == {"test_acc": 87.5, "nonzero": 100, "size_mb": 0.8, "speedup": 0.91,
                                        "vs_dense_extra": -1.75}
    assert report.summary(table[0])["size_mb"] == 4.0 and "vs_dense_extra" not in report.summary(table[0])


def test_speedups_within_the_noise_floor_are_marked_and_the_baselines_own_is_not(tmp_path):
    """With timing's noise floor (pytorch 5 %), a 1.04x speedup and a 0.96x one are marked `~` in the table,
    a 1.30x and a 0.70x one are not, nor the baseline's own 1.00x."""
    speeds = {"original": 1.0, "a": 1.04, "b": 0.96, "c": 1.30, "d": 0.70}
    metrics = report.load_metrics(write_metrics(tmp_path, {v: BASE for v in speeds}))
    timing = {**{v: {"latency_ms": 2.0 / s, "latency_speedup": s} for v, s in speeds.items()},
              "noise_floor": {"pytorch": 0.05}}
    table = report.rows(metrics, {}, None, timing)
    assert {r["variant"]: r["unresolved"] for r in table} == {
        "original": [], "a": ["latency_speedup"], "b": ["latency_speedup"], "c": [], "d": []}
    text = report.markdown(table)
    assert "~1.04x" in text and "~0.96x" in text and "~1.00x" not in text and "~1.30x" not in text
