"""tools.results: the headline's size columns over seeds (one value, or a range, never a mean), and the
Grad-CAM figure recorded lossless."""
import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from tools import results

RUN_DIR = f"{ROOT}/{results.RESULTS}/{results.RUN}"


def test_a_size_is_the_seeds_value_or_their_range():
    assert results.size_cell([152769536] * 3, 1e6, 1) == "152.8"
    assert results.size_cell([935159, 935159]) == "935,159"
    assert results.size_cell([2508730, 2408634, 2492290]) == "2,408,634–2,508,730"
    assert results.size_cell([53417376, 53453840, 53393856], 1e6, 1) == "53.4–53.5"
    assert results.size_cell([53410000, 53440000], 1e6, 1) == "53.41–53.44"  # digits until they differ


@pytest.fixture(scope="module")
def records():
    return results.load(RUN_DIR)


def test_the_headline_shows_sizes_no_model_lacks(records):
    """On the committed run: a structured variant's MACs and nonzero parameters (an architecture per seed)
    as the range over the seeds, the unstructured ones' (one architecture) as their one value."""
    meta, per_seed = records
    text = results.headline(meta, per_seed, results.RUN, results.summary(per_seed))
    rows = {cells[0]: cells for cells in ([c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines()
                                          if line.startswith("| ") and not line.startswith("| variant"))}
    for variant, evaluation in (("structured_finetuned", "structured_finetuned"), ("unstructured", "unstructured")):
        evals = [r[f"reports/eval/{evaluation}.json"] for r in per_seed.values()]
        macs, params = [e["macs"] for e in evals], [e["nonzero_params"] for e in evals]
        assert rows[variant][5:7] == [results.size_cell(macs, 1e6, 1), results.size_cell(params)]
    assert "–" in rows["structured_finetuned"][6] and "–" not in rows["unstructured"][6]
    assert "never a mean" in text


def test_the_grad_cam_figure_is_recorded_lossless(tmp_path):
    """collect copies the pipeline's PNG byte for byte (and drops an earlier collection's JPEG); the page
    shows the PNG, or, in records collected before, their JPEG."""
    workspace, folder = tmp_path / "ws", tmp_path / "run/seed0"
    (workspace / "reports").mkdir(parents=True)
    (workspace / "dvc.lock").write_text("schema: '2.0'\n")
    pixels = np.random.default_rng(0).integers(0, 256, (60, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(workspace / f"{results.GRAD_CAM}.png")
    (folder / "reports").mkdir(parents=True)
    (folder / f"{results.GRAD_CAM}.jpg").write_bytes(b"old")
    assert results.grad_cam_image(tmp_path / "run", 0)[0] == f"seed0/{results.GRAD_CAM}.jpg"
    results.collect(workspace, folder, None, figures=True)
    copied = folder / f"{results.GRAD_CAM}.png"
    assert copied.read_bytes() == (workspace / f"{results.GRAD_CAM}.png").read_bytes()
    assert (np.asarray(Image.open(copied)) == pixels).all()
    assert not (folder / f"{results.GRAD_CAM}.jpg").exists()
    assert results.grad_cam_image(tmp_path / "run", 0) == (f"seed0/{results.GRAD_CAM}.png", "")


def test_the_page_links_the_grad_cam_figure_the_records_hold(records):
    doc, _ = results.render(RUN_DIR, records)
    cam, _ = results.grad_cam_image(RUN_DIR, next(iter(records[1])))
    assert f"](../{results.RESULTS}/{results.RUN}/{cam})" in doc


def test_the_deployment_table_is_the_records_means():
    """The int8 section on two synthetic seeds: each cell the mean over seeds of its record, computed here
    by hand; records without a quantize report (code before int8 deployment) get no section."""
    per_seed = {}
    for seed in (0, 1):
        r = {"reports/quantize.json": {"calibration": "minmax", "calibration_images": 512, "reduce_range": False,
                                       "variants": {}},
             "reports/timing.json": {"noise_floor": {"pytorch": 0.01 * (seed + 1), "onnx": 0.02, "int8": 0.03}}}
        for i, (v, spec) in enumerate(results.VARIANTS.items()):
            r[f"reports/eval/{spec['evaluation']}.json"] = {
                "test_accuracy": 80 + i + seed, "onnx_test_accuracy": 80 + i + seed, "int8_test_accuracy": 79 + i,
                "int8_drop": 1 + seed, "int8_size_bytes": 2e6 * (1 + seed)}
            r["reports/quantize.json"]["variants"][v] = {"float_size_bytes": 8e6}
            r["reports/timing.json"][v] = {"onnx_latency_ms": 2.0 + seed, "int8_latency_ms": 0.5,
                                           "int8_latency_speedup": 4.0 + 2 * seed, "int8_gain": 2.0,
                                           "int8_throughput_speedup": 3.0, "int8_throughput_gain": 1.5}
        per_seed[seed] = r
    lines = results.deployment(per_seed)
    row = next(line for line in lines if line.startswith("| original |"))
    assert [c.strip() for c in row.split("|")[1:-1]] == [
        "original", "80.50", "80.50", "79.00", "-1.50", "8.0 -> 3.0", "2.50", "0.50", "5.00x", "2.00x", "3.00x",
        "1.50x"]
    assert "minmax` on 512 training images" in lines[2]
    assert "pytorch 2.0 %, onnx 2.0 %, int8 3.0 %" in "\n".join(lines)
    assert results.deployment({0: {k: v for k, v in per_seed[0].items() if k != "reports/quantize.json"}}) == []


def test_the_method_tables_come_from_the_records(tmp_path):
    """docs/method.md's generated tables: the recalibration change of a synthetic curves record (after minus
    before, per allocation and sparsity), a CAM choice record and an int8 calibration choice record, rendered
    between their markers."""
    import json
    (tmp_path / "curves.json").write_text(json.dumps([
        {"target": 0.7, "global": 80.0, "global_before_recalibration": 60.0, "uniform": 70.0,
         "uniform_before_recalibration": 65.5},
        {"target": 0.9, "global": 50.0, "global_before_recalibration": 10.0}]))
    (tmp_path / "cam.json").write_text(json.dumps({
        "models": ["original"], "chosen": {"method": "layercam", "layer": "conv4"},
        "candidates": [{"method": "gradcam", "layer": "conv8", "size": 2, "original": {"road_combined": 0.01},
                        "road_combined": 0.01},
                       {"method": "layercam", "layer": "conv4", "size": 8, "original": {"road_combined": 0.03},
                        "road_combined": 0.03}]}))
    (tmp_path / "calibration.json").write_text(json.dumps({
        "models": ["original"], "chosen": "entropy",
        "candidates": [{"method": "minmax", "int8_val_drop": 0.5, "original": {
                            "float_val_accuracy": 90.0, "int8_val_accuracy": 89.5, "int8_val_drop": 0.5}},
                       {"method": "entropy", "int8_val_drop": 0.25, "original": {
                            "float_val_accuracy": 90.0, "int8_val_accuracy": 89.75, "int8_val_drop": 0.25}}]}))
    page = ("x\n<!-- table: recalibration curves.json -->\nstale\n<!-- table end -->\ny\n"
            "<!-- table: cam_choice cam.json -->\n<!-- table end -->\n"
            "<!-- table: calibration calibration.json -->\n<!-- table end -->\n")
    out = results.quote_tables(page, tmp_path)
    assert "| 0.70 | global | 60.00 | 80.00 | +20.00 |" in out and "| 0.70 | uniform | 65.50 | 70.00 | +4.50 |" in out
    assert "| 0.90 | global | 10.00 | 50.00 | +40.00 |" in out and "0.80" not in out and "stale" not in out
    assert "| layercam (chosen) | conv4 | 8x8 | +0.0300 | +0.0300 |" in out and "| gradcam | conv8 | 2x2 |" in out
    assert "| minmax | 90.00 -> 89.50 (+0.50) | +0.50 |" in out
    assert "| entropy (chosen) | 90.00 -> 89.75 (+0.25) | +0.25 |" in out
    assert out.startswith("x\n<!-- table: recalibration curves.json -->\n") and out.endswith("<!-- table end -->\n")


def test_the_recovery_table_holds_the_recovery_experiments_beside_their_seeds_run(tmp_path):
    """docs/method.md's recovery table: the seed's run once, then each experiment that changed only recovery
    keys (one that changed another section is left out), each variant's validation (test) accuracy, blank where
    it did not re-train the variant, and the mean validation change over those it did."""
    import json
    import yaml
    def write(folder, params, accuracies):
        (folder / "reports" / "eval").mkdir(parents=True)
        (folder / "params.yaml").write_text(yaml.safe_dump(params))
        for name, (val, test) in accuracies.items():
            (folder / "reports" / "eval" / f"{name}.json").write_text(
                json.dumps({"val_accuracy": val, "test_accuracy": test}))
    run = {"seed": 0, "recovery": {"schedule": "cosine", "distill_weight": 0.0},
           "structured_prune": {"criterion": "l1"}}
    write(tmp_path / "seed0", run, {name: (80.0, 79.0) for name in
                                    ["unstructured", "structured_finetuned", "dense_extra", "scratch",
                                     "unstructured_random", "structured_random"]})
    experiments = {"kd": ({"recovery": {**run["recovery"], "distill_weight": 0.5}}, {"unstructured": (81.0, 79.5),
                                                                                      "scratch": (80.5, 78.0)}),
                   "l2": ({"structured_prune": {"criterion": "l2"}}, {"structured_finetuned": (90.0, 90.0)})}
    for name, (change, accuracies) in experiments.items():
        write(tmp_path / "ablations" / name, {**run, **change}, accuracies)
        (tmp_path / "ablations" / name / "ablation.json").write_text(json.dumps({"variants": list(accuracies)}))
    (tmp_path / "run.json").write_text("{}")
    lines = results.recovery_table(tmp_path)
    assert lines[2:] == [
        "| the run's (seed 0) |  | " + "80.00 (79.00) | " * 6 + " |",
        "| kd | `recovery.distill_weight=0.5` | 81.00 (79.50) |  |  | 80.50 (78.00) |  |  | +0.75 |"]
