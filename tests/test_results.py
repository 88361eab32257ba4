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
