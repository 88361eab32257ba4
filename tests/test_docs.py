"""The generated documentation is what its generator writes from the code and the records."""
import glob
import json
import os
import re
import shutil

import pytest
import yaml

from conftest import ROOT, committed_params
from lib import seeds
from lib.errors import UserError
from tools import ablations, paramdoc, results


def test_the_parameter_reference_is_up_to_date(tmp_path):
    """docs/parameters.md is tools.paramdoc's rendering of params.yaml and the stages' schemas: a key
    added, removed, re-commented or re-checked without regenerating it fails here."""
    with open(f"{ROOT}/docs/parameters.md") as f:
        committed = tmp_path / "params.yaml"
        committed.write_text(committed_params())
        assert f.read() == paramdoc.render(committed), "run: python -m tools.paramdoc"


def test_comments_follow_their_keys():
    lines = ["seed: 0   # one seed", "data:", "  source: x  # where", "                 # from, continued",
             "  val_size: 5", "top: [1, 2]"]
    assert paramdoc.comments(lines) == {"seed": "one seed", "data": "", "data.source": "where from, continued",
                                        "data.val_size": "", "top": ""}


def test_stage_times_come_from_the_timestamped_log():
    log = ["2026-01-01T10:00:00Z Running stage 'download':", "2026-01-01T10:00:30Z > python -m stages.download",
           "2026-01-01T10:01:00Z Running stage 'finetune':", "2026-01-01T10:21:00Z epoch 12/12: ...",
           "2026-01-01T10:21:30Z Use `dvc push` to send your updates to remote storage."]
    assert results.stage_times(log) == {"download": 60.0, "finetune": 1230.0}


def test_the_results_pages_are_what_the_records_say():
    """Every run's results page (docs/results.md for the headline run), and the README's headline block, are
    tools.results' rendering of the committed records (results/<run>/): a number edited by hand, or records
    changed without `make results`, fail."""
    assert results.runs()[0] == results.RUN
    for run in results.runs():
        run_dir = f"{ROOT}/{results.RESULTS}/{run}"
        doc, block = results.render(run_dir)
        with open(f"{ROOT}/{results.page(run)}") as f:
            assert f.read() == doc, f"run: make results ({run})"
        if run == results.RUN:
            with open(f"{ROOT}/{results.README}") as f:
                assert block in f.read(), "run: make results"
        with open(f"{run_dir}/summary.json") as f:
            assert json.load(f) == json.loads(json.dumps(seeds.to_json(results.summary(results.load(run_dir)[1])))), \
                f"run: make results ({run})"


def test_the_timing_noise_floor_spans_the_variants_of_one_architecture():
    """The sentence under the timing table gives, per group of variants with equal parameter counts in
    every seed, the range of their latencies averaged over seeds (a hand computation on two synthetic
    seeds; the structured architecture differs between seeds, as in a real run)."""
    order = list(results.VARIANTS)
    dense = [v for v in order if not v.startswith("structured") and v != "scratch"]
    small = [v for v in order if v not in dense]
    per_seed = {}
    for seed, shift in ((0, 0.0), (1, 1.0)):
        r = {"reports/timing.json": {}}
        for i, (v, spec) in enumerate(results.VARIANTS.items()):
            r[f"reports/eval/{spec['evaluation']}.json"] = {"params": 100 if v in dense else 30 + seed}
            r["reports/timing.json"][v] = {"latency_ms": 5 + i + shift, "onnx_latency_ms": 2 + i / 10 + shift}
        per_seed[seed] = r
    text = results.noise_sentence(per_seed)
    for group in (dense, small):
        lo, hi = order.index(group[0]), order.index(group[-1])
        assert (f"{', '.join(group)} run one architecture: batch-1 latency between {5 + lo + 0.5:.2f} and "
                f"{5 + hi + 0.5:.2f} ms in PyTorch and between {2 + lo / 10 + 0.5:.2f} and {2 + hi / 10 + 0.5:.2f} "
                "ms in onnxruntime.") in text


def test_the_benchmark_outputs_quoted_are_the_recorded_ones(tmp_path):
    """docs/benchmarks.md quotes results/benchmarks/*.txt verbatim (make results); quoting is tested on
    a page of its own: a record quoted, a missing one said to be missing, the text around kept."""
    with open(f"{ROOT}/{results.BENCHMARKS}") as f:
        page = f.read()
    assert results.quote_outputs(page, ROOT) == page, "run: make results"
    (tmp_path / "r.txt").write_text("$ python -m x\n1.5x\n")
    text = "a\n<!-- output: r.txt -->\nold\n<!-- output end -->\nb\n<!-- output: s.txt -->\n<!-- output end -->\n"
    assert results.quote_outputs(text, tmp_path) == (
        "a\n<!-- output: r.txt -->\n```\n$ python -m x\n1.5x\n```\n<!-- output end -->\nb\n"
        "<!-- output: s.txt -->\nNo recorded output yet: `make bench` writes s.txt.\n<!-- output end -->\n")


def test_the_method_pages_tables_are_the_recorded_ones():
    """docs/method.md's tables between `<!-- table: ... -->` markers are tools.results' rendering of the
    records they name (make results)."""
    with open(f"{ROOT}/{results.METHOD}") as f:
        page = f.read()
    assert results.quote_tables(page, ROOT) == page, "run: make results"


def test_every_link_and_image_in_the_docs_resolves():
    """Each relative link or image of the README and docs/ names a file (or folder) of the project."""
    broken = []
    for page in ["README.md", *sorted(glob.glob("docs/*.md", root_dir=ROOT))]:
        with open(f"{ROOT}/{page}") as f:
            for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", f.read()):
                if "://" not in target and not os.path.exists(os.path.join(ROOT, os.path.dirname(page), target)):
                    broken.append((page, target))
    assert not broken, broken


def test_an_experiment_is_recorded_and_shown_beside_its_seeds_run(tmp_path):
    """tools.ablations: a workspace's experiment (here seed 0's records, one param changed and its
    evaluation's accuracy moved by a known amount) is collected and shown with what it changed and its
    difference to the same seed's run; an evaluation dvc.lock says came from other params is refused."""
    source = f"{ROOT}/{results.RESULTS}/{results.RUN}"
    run_dir, workspace = tmp_path / "run", tmp_path / "ws"
    shutil.copytree(f"{source}/seed0", run_dir / "seed0")
    shutil.copy(f"{source}/run.json", run_dir)
    shutil.copytree(f"{source}/seed0", workspace)
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    lock = yaml.safe_load((workspace / "dvc.lock").read_text())
    params["structured_prune"]["criterion"] = "l2"  # as if the experiment ran with it
    stages = lock["stages"]  # structured_prune and structured_finetune re-ran with it, structured_random not
    stages["structured_prune"]["params"]["params.yaml"]["structured_prune.criterion"] = "l2"
    for out in stages["structured_prune"]["outs"]:  # its new model and ratios; the fine-tune read the model
        out["md5"] = "0" * 32
    next(d for d in stages["structured_finetune"]["deps"] if d["path"].endswith("pruned.pth"))["md5"] = "0" * 32
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))
    (workspace / "dvc.lock").write_text(yaml.safe_dump(lock))
    evaluation = workspace / "reports/eval/structured_finetuned.json"
    before = json.loads(evaluation.read_text())["test_accuracy"]
    evaluation.write_text(json.dumps({**json.loads(evaluation.read_text()), "test_accuracy": before - 0.5}))

    with pytest.raises(UserError, match="structured_random.json was written by stage structured_random with an "
                       "older reports/structured_ratios.json"):
        ablations.collect(workspace, run_dir / "ablations/crit-l2", "Criteria", ["structured_random"])
    leftover = {**params, "unstructured_prune": {**params["unstructured_prune"], "target": 0.95}}
    (workspace / "params.yaml").write_text(yaml.safe_dump(leftover))  # as an earlier experiment leaves it
    with pytest.raises(UserError, match=r"changed \['unstructured_prune.target=0.95'\] from its seed's run, which "
                       r"no stage of \['structured_finetuned'\] reads"):
        ablations.collect(workspace, run_dir / "ablations/crit-l2", "Criteria", ["structured_finetuned"])
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))
    ablations.collect(workspace, run_dir / "ablations/crit-l2", "Criteria", ["structured_finetuned"])
    meta, per_seed = results.load(str(run_dir))
    lines = ablations.section(str(run_dir), per_seed, meta["command"])
    assert "**Criteria**" in lines
    assert ("    " + meta["command"].replace("-n cpu-12ep-seed<k> -S seed=<k>", "-n crit-l2 -S seed=0")
            + " -S structured_prune.criterion=l2 structured_finetune") in lines
    val = json.loads(evaluation.read_text())["val_accuracy"]
    assert (f"| crit-l2 | `structured_prune.criterion=l2` | structured_finetuned | {val:.2f} | {before - 0.5:.2f} | "
            f"{val:.2f}, {before:.2f} (seed 0) | -0.50 |") in lines
    assert "## One-setting experiments" in results.render(str(run_dir))[0]

    # an experiment on newer code: a key the run predates, read by a stage it re-ran, is a change; one no
    # re-run stage reads is not (the run behaved as without it); the page names the experiment's commit
    params["structured_finetune"]["smoothing"], params["dense_extra"]["smoothing"] = 0.1, 0.0
    stages["structured_finetune"]["params"]["params.yaml"]["structured_finetune.smoothing"] = 0.1
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))
    (workspace / "dvc.lock").write_text(yaml.safe_dump(lock))
    ablations.collect(workspace, run_dir / "ablations/newer", "Newer", ["structured_finetuned"], code="ab" * 20)
    lines = ablations.section(str(run_dir), per_seed, meta["command"], "cd" * 20)
    assert (f"| newer | `structured_finetune.smoothing=0.1`, `structured_prune.criterion=l2` | structured_finetuned | "
            f"{val:.2f} | {before - 0.5:.2f} |") in "\n".join(lines)
    command = meta["command"].replace("-n cpu-12ep-seed<k> -S seed=<k>", "-n newer -S seed=0")
    assert f"    {command} -S structured_finetune.smoothing=0.1 -S structured_prune.criterion=l2 structured_finetune" \
        in lines
    assert "newer ran commit `abababababab` of this repository, the run `cdcdcdcdcdcd`." in lines
    assert not any("crit-l2 ran commit" in line for line in lines)
