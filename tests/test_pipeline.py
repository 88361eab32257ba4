"""End to end: the real pipeline (`dvc repro`) on a tiny configuration in temporary git repos. One
worker runs this whole file (make test: pytest-xdist --dist loadfile), so its pipelines are paid once:
two runs side by side, then, in the background beside the tests that share the first, a second seed."""
import filecmp
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
import yaml

from conftest import ROOT
from lib.variants import VARIANTS as REGISTRY
from tiny_project import STAGES, TINY, dvc, environment, git, make_repo, ran, set_params, sh

COMMON_KEYS = {"val_accuracy", "test_accuracy", "test_loss", "params", "nonzero_params", "size_bytes", "macs"}
VARIANTS = list(REGISTRY)
MODELS = [spec["checkpoint"] for spec in REGISTRY.values()]
METRICS_OF = {spec["checkpoint"]: spec["evaluation"] for spec in REGISTRY.values()}


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Two copies of the project in temporary git repos, each reproduced end to end (`dvc repro`) on
    the tiny configuration (tiny_project.TINY), both at once (a core each): the first is the repo the
    tests below share, the second the independent run test_two_runs_are_identical compares it with."""
    paths = [make_repo(tmp_path_factory.mktemp("e2e") / name) for name in ("project", "twin")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        outputs = list(pool.map(lambda path: dvc(path, "repro"), paths))
    for output in outputs:
        assert ran(output) == STAGES, output
    return paths


@pytest.fixture(scope="module")
def seed_sweep(tiny_runs, tmp_path_factory):
    """The README's seed sweep, started in the background as soon as the project is reproduced: `make
    seeds` on two seeds of the tiny configuration in a copy of the project (with the Makefile, tools and
    docs), so its second seed's pipeline runs beside the tests below rather than after them. Yields the
    copy and the running `make` (its output in make-seeds.log beside the copy)."""
    work = tmp_path_factory.mktemp("sweep") / "sweep"
    shutil.copytree(tiny_runs[0], work)
    for name in ("Makefile", "requirements.txt", "README.md", "docs", "tools"):
        src = os.path.join(ROOT, name)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, work / name)
    git(work, "add", "Makefile", "requirements.txt", "README.md", "docs", "tools")
    git(work, "commit", "-qm", "tools")
    venv = os.path.dirname(os.path.dirname(sys.executable))
    with open(work.parent / "make-seeds.log", "w") as log:
        make = subprocess.Popen(["make", "-o", f"{venv}/.installed", "seeds", f"VENV={venv}", "PREFIX=tiny",
                                 "SEEDS=0 1"], cwd=work, env=environment(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: stopped whole below
    yield work, make
    if make.poll() is None:  # the tests stopped before the sweep's test waited for it
        os.killpg(make.pid, signal.SIGTERM)
        make.wait()


@pytest.fixture(scope="module")
def repo(tiny_runs, seed_sweep):
    """The reproduced tiny project the end-to-end tests share (the seed sweep's copy is taken first,
    before any test changes it)."""
    return tiny_runs[0]


@pytest.fixture
def params_put_back(repo):
    """For a test that edits params.yaml: afterwards, even if it failed, the file is as before and the
    outputs are the recorded run's again (`dvc repro` restores them from the run cache), so the tests
    after it see the repo they expect."""
    saved = (repo / "params.yaml").read_text()
    yield
    if (repo / "params.yaml").read_text() != saved:
        (repo / "params.yaml").write_text(saved)
        sh(repo, sys.executable, "-m", "dvc", "repro", check=False)


def test_artifacts_exist(repo):
    for path in MODELS + ["data/train.pt", "data/val.pt", "data/test.pt", "reports/data.json",
                          "reports/unstructured_sensitivity_results.pth", "reports/grad_cam_comparison.png",
                          "reports/unstructured_sensitivity.png", "reports/unstructured_conv1_histogram.png",
                          "reports/structured_sensitivity_heatmap.png", "reports/structured_filter_norms.png",
                          "reports/comparison.md", "reports/comparison.png",
                          "models/unstructured_pruned_vgg11_sparse.pth"]:
        assert (repo / path).stat().st_size > 0, path


def test_metrics_share_the_common_keys(repo):
    for name in ["finetune", "unstructured", "structured_pruned", "structured_finetuned", "dense_extra", "scratch"]:
        metrics = json.loads((repo / f"reports/eval/{name}.json").read_text())
        assert COMMON_KEYS <= set(metrics), name
        assert 0 <= metrics["test_accuracy"] <= 100
    unstructured = json.loads((repo / "reports/eval/unstructured.json").read_text())
    assert unstructured["nonzero_params"] < unstructured["params"]
    structured = json.loads((repo / "reports/eval/structured_pruned.json").read_text())
    baseline = json.loads((repo / "reports/eval/finetune.json").read_text())
    assert structured["params"] < baseline["params"] and structured["macs"] < baseline["macs"]
    assert structured["bn_recalibration_gain"] == pytest.approx(
        structured["val_accuracy"] - structured["val_accuracy_before_bn_recalibration"])


def test_metrics_show_reads_as_one_row_per_variant(repo):
    """`dvc metrics show reports/metrics/*.json` is compare's per-variant summary: one row each, within 160 columns,
    with the numbers of the evaluation and timing files it summarises (accuracy, size, speed, the same-budget
    comparisons; the rest is in comparison.md). Plain `dvc metrics show` adds reports/accuracy.json, every
    variant's test accuracy under its short name (the columns of `dvc exp show`)."""
    shown = dvc(repo, "metrics", "show", *sorted(str(p.relative_to(repo)) for p in repo.glob("reports/metrics/*.json")))
    assert max(len(line) for line in shown.splitlines()) <= 160, shown
    accuracy = json.loads((repo / "reports/accuracy.json").read_text())
    assert set(accuracy) == {spec["short"] for spec in REGISTRY.values()}
    everything = dvc(repo, "metrics", "show")
    assert "reports/accuracy.json" in everything and all(short in everything for short in accuracy)
    evaluations = {variant: spec["evaluation"] for variant, spec in REGISTRY.items()}
    timing = json.loads((repo / "reports/timing.json").read_text())
    for variant, name in evaluations.items():
        assert f"reports/metrics/{variant}.json" in shown
        shown_row = next(line for line in shown.splitlines() if f"reports/metrics/{variant}.json" in line)
        m = json.loads((repo / f"reports/metrics/{variant}.json").read_text())
        e = json.loads((repo / f"reports/eval/{name}.json").read_text())
        assert m["test_acc"] == round(e["test_accuracy"], 2) and f"{m['test_acc']:g}" in shown_row
        assert m["nonzero"] == e["nonzero_params"] and m["int8_acc"] == round(e["int8_test_accuracy"], 2)
        assert m["size_mb"] == round(e.get("sparse_size_bytes", e["size_bytes"]) / 1e6, 3)
        assert m["speedup"] == round(timing[variant]["latency_speedup"], 2)
        assert m["int8"] == round(timing[variant]["int8_latency_speedup"], 2)
        assert accuracy[REGISTRY[variant]["short"]] == m["test_acc"]
    dense = json.loads((repo / "reports/eval/dense_extra.json").read_text())
    for variant, controls in {v: spec["controls"] for v, spec in REGISTRY.items() if spec["controls"]}.items():
        m = json.loads((repo / f"reports/metrics/{variant}.json").read_text())
        e = json.loads((repo / f"reports/eval/{evaluations[variant]}.json").read_text())
        assert m["vs_dense_extra"] == round(e["test_accuracy"] - dense["test_accuracy"], 2)
        assert ("vs_scratch" in m) == ("scratch" in controls)


def test_random_controls_have_their_variants_budgets(repo):
    """Each random-pruning control keeps its variant's per-layer counts (the unstructured one its exact
    per-layer sparsities, with other weights zeroed; the structured one its filter counts, parameters and
    MACs), and the metrics show each variant minus its control as vs_random."""
    from lib import models

    def evaluation(name):
        return json.loads((repo / f"reports/eval/{name}.json").read_text())

    variant, control = evaluation("unstructured"), evaluation("unstructured_random")
    assert control["layer_sparsity"] == variant["layer_sparsity"] and control["nonzero_params"] == variant[
        "nonzero_params"]
    zeros = [{name: conv.weight == 0 for name, _, conv in models.convs(models.load_checkpoint(str(repo / path))[0])}
             for path in (REGISTRY["unstructured"]["checkpoint"], REGISTRY["unstructured_random"]["checkpoint"])]
    assert any(not torch.equal(zeros[0][n], zeros[1][n]) for n in zeros[0] if variant["layer_sparsity"][n] > 0)
    pruned, control = evaluation("structured_pruned"), evaluation("structured_random")
    assert (control["filters"], control["params"], control["macs"]) == (pruned["filters"], pruned["params"],
                                                                         pruned["macs"])
    for name, random in [("unstructured", "unstructured_random"), ("structured_finetuned", "structured_random")]:
        shown = json.loads((repo / f"reports/metrics/{name}.json").read_text())
        assert shown["vs_random"] == round(evaluation(REGISTRY[name]["evaluation"])["test_accuracy"]
                                           - evaluation(random)["test_accuracy"], 2)


def test_tradeoff_curves_against_an_independent_pruning(repo):
    """The one-shot curves: every allocation at every reachable target, each structured point at least
    its target; the global allocation's accuracy equals torch's own global_unstructured pruning of
    the baseline, evaluated here, before and after the batch-norm recalibration."""
    import warnings
    from torch.nn.utils import prune
    from lib import models
    from lib.batchnorm import Recalibration, recalibrate_batchnorm
    from lib.data import load_split
    from lib.train import evaluate
    rows = json.loads((repo / "reports/plots/unstructured_tradeoff.json").read_text())
    assert [r["target"] for r in rows] == TINY["unstructured_tradeoff"]["targets"]
    assert {"global", "uniform", "sensitivity"} <= set(rows[0]) and "sensitivity" not in rows[1]  # sweep tops at 0.9
    test = load_split(str(repo / "data/test.pt"))
    how = Recalibration(load_split(str(repo / "data/train.pt")), 20, TINY["finetune"]["batch_size"], 0)
    for row in rows:
        model, _ = models.load_checkpoint(str(repo / MODELS[0]))
        prune.global_unstructured([(conv, "weight") for _, _, conv in models.convs(model)],
                                  prune.L1Unstructured, amount=row["target"])
        assert row["global_before_recalibration"] == pytest.approx(evaluate(model, test, 100)["accuracy"], abs=1e-9)
        with warnings.catch_warnings():  # the tiny training split holds fewer than 20 batches
            warnings.simplefilter("ignore")
            recalibrated = recalibrate_batchnorm(model, how)
        assert row["global"] == pytest.approx(evaluate(recalibrated, test, 100)["accuracy"], abs=1e-9)
    rows = json.loads((repo / "reports/plots/structured_tradeoff.json").read_text())
    assert [r["target"] for r in rows] == TINY["structured_tradeoff"]["targets"]
    assert {"uniform", "sensitivity"} <= set(rows[0])
    for row in rows:
        for name in ("uniform", "sensitivity"):
            if name in row:
                assert row[f"{name}_achieved"] >= row["target"] - 1e-9 and 0 <= row[name] <= 100
    for path in ("reports/unstructured_tradeoff.png", "reports/structured_tradeoff.png"):
        assert (repo / path).read_bytes()[:4] == b"\x89PNG", path


def test_timing_has_every_variant_against_the_baseline(repo):
    """Every variant in PyTorch, onnxruntime and onnxruntime int8; int8 against the original float export and
    against the variant's own; the noise floor of each runtime."""
    from lib.timing import KEYS
    timing = json.loads((repo / "reports/timing.json").read_text())
    assert list(timing) == VARIANTS + ["noise_floor"]
    floors = timing.pop("noise_floor")
    assert set(floors) == {"pytorch", "onnx", "int8"} and all(f >= 0 for f in floors.values())
    int8 = {"int8_latency_ms", "int8_latency_iqr_ms", "int8_throughput_ips", "int8_latency_speedup",
            "int8_throughput_speedup", "int8_gain", "int8_throughput_gain"}
    for variant, t in timing.items():
        assert set(t) == set(KEYS) | {f"onnx_{k}" for k in KEYS} | int8 and t["latency_ms"] > 0 and \
            t["throughput_ips"] > 0, variant
        assert t["latency_speedup"] == pytest.approx(timing["original"]["latency_ms"] / t["latency_ms"])
        assert t["onnx_latency_speedup"] == pytest.approx(timing["original"]["onnx_latency_ms"] / t["onnx_latency_ms"])
        assert t["int8_latency_speedup"] == pytest.approx(timing["original"]["onnx_latency_ms"] / t["int8_latency_ms"])
        assert t["int8_gain"] == pytest.approx(t["onnx_latency_ms"] / t["int8_latency_ms"])
    assert timing["original"]["latency_speedup"] == 1.0 and timing["original"]["latency_speedup_iqr"] == 0.0
    assert timing["original"]["onnx_latency_speedup"] == 1.0


def test_onnx_exports_compute_what_the_checkpoints_do(repo):
    """Each variant's ONNX export (stage export_onnx), run by onnxruntime, gives its checkpoint's logits
    on test images it was not checked on; the structured export is physically smaller, the unstructured
    one dense (its zeros stored)."""
    from lib import models, onnx_export
    from lib.data import load_split, normalize
    images = normalize(load_split(str(repo / "data/test.pt"))["images"][-16:])
    for spec in REGISTRY.values():
        model, _ = models.load_checkpoint(str(repo / spec["checkpoint"]))
        path = str(repo / spec["checkpoint"]).replace(".pth", ".onnx")
        assert onnx_export.check(model, onnx_export.session(path), spec["checkpoint"], images) <= onnx_export.TOLERANCE
    size = {v: (repo / spec["checkpoint"].replace(".pth", ".onnx")).stat().st_size for v, spec in REGISTRY.items()}
    assert size["structured_finetuned"] < size["original"] / 2 and size["unstructured"] > size["original"] * 0.95


def test_checkpoints_load_with_weights_only(repo):
    from lib import models
    baseline = torch.load(repo / MODELS[0], weights_only=True)
    assert baseline["architecture"]["filters"] == models.scaled_filters(TINY["model"]["width"])
    digits = torch.load(repo / "data/test.pt", weights_only=True)
    for path in MODELS:
        ckpt = torch.load(repo / path, weights_only=True)
        assert set(ckpt) >= {"architecture", "state_dict"}
        model, _ = models.load_checkpoint(str(repo / path))
        assert model(digits["images"][:2].float()).shape == (2, 10)
    torch.load(repo / "models/unstructured_pruned_vgg11_sparse.pth", weights_only=True)
    torch.load(repo / "reports/unstructured_sensitivity_results.pth", weights_only=True)


def test_dvc_status_is_clean(repo):
    assert "Data and pipelines are up to date" in dvc(repo, "status")


def outputs(repo):
    """{path: sha256} of every file under data/, models/ and reports/."""
    import hashlib
    return {p.relative_to(repo).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for d in ("data", "models", "reports") for p in sorted((repo / d).rglob("*")) if p.is_file()}


def test_a_failed_run_costs_nothing(repo, params_put_back):
    """A typo in a param: DVC deletes the stage's outputs and runs it, the stage refuses the value.
    After the fix, `dvc repro` restores them from the run cache: nothing is trained, every output is
    back byte for byte."""
    before = outputs(repo)
    params = (repo / "params.yaml").read_text()
    set_params(repo, {"finetune": {"lr": "abc"}})
    failed = sh(repo, sys.executable, "-m", "dvc", "repro", check=False)
    assert failed.returncode != 0 and "finetune.lr = 'abc' is not allowed" in failed.stderr, failed.stderr
    assert "Traceback" not in failed.stderr
    assert not (repo / MODELS[0]).exists()  # DVC removed the baseline before running the stage
    (repo / "params.yaml").write_text(params)
    output = dvc(repo, "repro")
    assert ran(output) == [] and "Stage 'finetune' is cached - skipping run, checking out outputs" in output, output
    assert outputs(repo) == before


def test_a_timing_setting_reruns_only_timing(repo, params_put_back):
    params = (repo / "params.yaml").read_text()
    set_params(repo, {"timing": {"latency_runs": 5}})
    assert ran(dvc(repo, "repro")) == ["timing", "compare"]
    (repo / "params.yaml").write_text(params)
    assert ran(dvc(repo, "repro")) == []  # back to the recorded run: restored from the run cache


def test_dvc_without_the_environment_on_path_says_how_to_run_it(repo):
    """`.venv/bin/dvc repro` from a shell where the environment is not activated: DVC runs the stage with the
    `python` first on PATH, which lacks the project's packages; the stage says so in one line."""
    import shutil
    venv_bin = os.path.dirname(sys.executable)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if os.path.abspath(p) != venv_bin)
    python = shutil.which("python", path=path)
    has_torch = python and subprocess.run([python, "-c", "import torch"], capture_output=True).returncode == 0
    if not python or has_torch:
        pytest.skip("no `python` outside the environment that lacks its packages on this machine's PATH")
    result = subprocess.run([sys.executable, "-m", "dvc", "repro", "-f", "check_params"], cwd=repo,
                            env={**os.environ, "PATH": path}, capture_output=True, text=True)
    assert result.returncode != 0
    assert "lacks the project's packages" in result.stderr and "source .venv/bin/activate" in result.stderr
    assert "Traceback" not in result.stderr and "Data and pipelines are up to date" in dvc(repo, "status")


def test_plots_render(repo, tmp_path):
    dvc(repo, "plots", "show", "-o", str(tmp_path / "plots"))  # outside the repo: nothing to commit by mistake
    assert (tmp_path / "plots" / "index.html").stat().st_size > 0


def test_remote_round_trip(repo, tmp_path):
    """A newcomer gets the finished models from a remote instead of retraining: commit the results,
    `dvc push` to a local-directory remote, `git clone`, `dvc pull`: nothing to rerun, and the pulled
    models reproduce the recorded test accuracies on the pulled test split."""
    from lib import models
    from lib.data import load_split
    from lib.train import evaluate

    dvc(repo, "remote", "add", "-d", "-f", "local", str(tmp_path / "remote"))
    git(repo, "add", "-A")  # dvc.lock, the .gitignore files DVC wrote, .dvc/config
    git(repo, "commit", "-qm", "results")
    assert git(repo, "status", "--porcelain") == ""
    tracked = git(repo, "ls-files").split()
    assert "dvc.lock" in tracked and not [f for f in tracked if f.endswith((".pt", ".pth", ".png"))], tracked
    dvc(repo, "push")
    assert "in sync" in dvc(repo, "status", "--cloud")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert not (clone / MODELS[0]).exists() and not (clone / ".dvc" / "cache").exists()
    dvc(clone, "pull")
    assert "Data and pipelines are up to date" in dvc(clone, "status")

    params = yaml.safe_load((clone / "params.yaml").read_text())
    test = load_split(str(clone / "data/test.pt"))
    for path, name in METRICS_OF.items():
        recorded = json.loads((clone / f"reports/eval/{name}.json").read_text())
        model, _ = models.load_checkpoint(str(clone / path))
        got = evaluate(model, test, params["measure"]["batch_size"])
        assert got["accuracy"] == recorded["test_accuracy"], path
        assert got["loss"] == pytest.approx(recorded["test_loss"], rel=1e-5), path


def test_experiments_shared_across_clones(repo, tmp_path):
    """Sweeps past one machine with DVC's own engine: the project on a shared git remote (a bare repo)
    and a DVC remote (a folder); two clones each run an experiment and `dvc exp push` it; a third
    sees both in `dvc exp show`, applies one, and has its outputs (pulled with the experiment)
    with `dvc status` clean. The experiments change a timing setting, so each re-runs only timing and
    compare: the round trip is about sharing, not training."""
    storage = tmp_path / "storage"
    dvc(repo, "remote", "add", "-d", "-f", "shared", str(storage))
    git(repo, "add", "-A")
    if git(repo, "status", "--porcelain"):
        git(repo, "commit", "-qm", "shared remote")
    dvc(repo, "push")
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(tmp_path / "origin.git"))

    def clone(name):
        path = tmp_path / name
        git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), str(path))
        return path

    def experiment(name, runs):
        path = clone(name)
        dvc(path, "pull")
        dvc(path, "exp", "run", "-n", f"{name}-exp", "-S", f"timing.latency_runs={runs}")
        dvc(path, "exp", "push", "origin", f"{name}-exp")

    with ThreadPoolExecutor(max_workers=2) as pool:  # two people at two machines
        list(pool.map(experiment, ("alice", "bob"), (5, 6)))

    carol = clone("carol")
    listed = dvc(carol, "exp", "list", "origin")
    assert "alice-exp" in listed and "bob-exp" in listed, listed
    dvc(carol, "exp", "pull", "origin", "alice-exp")
    dvc(carol, "exp", "pull", "origin", "bob-exp")
    shown = dvc(carol, "exp", "show", "--csv")
    assert "alice-exp" in shown and "bob-exp" in shown, shown
    dvc(carol, "exp", "apply", "bob-exp")
    assert yaml.safe_load((carol / "params.yaml").read_text())["timing"]["latency_runs"] == 6
    assert json.loads((carol / "reports/timing.json").read_text()).keys() == set(VARIANTS) | {"noise_floor"}
    assert (carol / MODELS[0]).exists()
    assert "Data and pipelines are up to date" in dvc(carol, "status")


def pending(repo):
    """Stages `dvc status` reports as changed (deps, params or outputs differ from dvc.lock)."""
    return [s for s in STAGES if f"\n{s}:" in "\n" + dvc(repo, "status")]


def test_prune_param_change_reruns_only_what_follows(repo, params_put_back):
    """A prune setting invalidates exactly the stages that follow it: the prune stage, run alone,
    applies the setting, and then `dvc status` reports every stage that reads its outputs, and no
    other, as changed (and `dvc repro` would run those, then compare, which reads what evaluate writes; not
    the one-shot curves, which read only the baseline and its sweep). With
    the setting back, `dvc repro` restores its outputs from the run cache: nothing runs, nothing is
    pending. The followers themselves are not run: which stages DVC re-runs is what is checked."""
    params = (repo / "params.yaml").read_text()
    set_params(repo, {"unstructured_prune": {"sparsities": {"conv1": 0.3, "conv5": 0.8}}})
    assert "unstructured_prune.sparsities" in dvc(repo, "params", "diff")
    assert ran(dvc(repo, "repro", "unstructured_prune")) == ["unstructured_prune"]
    assert pending(repo) == ["unstructured_random", "gradcam", "export_onnx", "evaluate", "timing", "figures"]
    chosen = json.loads((repo / "reports/unstructured_sparsities.json").read_text())
    assert chosen["sparsities"]["conv1"] == 0.3 and chosen["sparsities"]["conv2"] == 0.0
    (repo / "params.yaml").write_text(params)
    assert ran(dvc(repo, "repro")) == []

    set_params(repo, {"structured_prune": {"ratios": {"conv8": 0.5}}})
    assert ran(dvc(repo, "repro", "structured_prune")) == ["structured_prune"]
    assert pending(repo) == ["structured_finetune", "structured_random", "scratch", "gradcam", "export_onnx",
                             "evaluate", "timing"]
    structured = json.loads((repo / "reports/records/structured_pruned.json").read_text())
    assert structured["filters"]["conv8"] == 64 and structured["filters"]["conv7"] == 128  # width 0.25: 128 each
    (repo / "params.yaml").write_text(params)
    assert ran(dvc(repo, "repro")) == []
    assert "Data and pipelines are up to date" in dvc(repo, "status")


def test_a_joint_structured_target_reaches_each_kind(repo, params_put_back):
    """target: {macs: x, params: y} through the real stage: both reductions measured on the saved
    model by torch's flop counter and parameter count, not by the stage's cost model."""
    from lib import models
    from lib.measure import count_params, macs
    params = (repo / "params.yaml").read_text()
    set_params(repo, {"structured_prune": {"target": {"macs": 0.3, "params": 0.5}}})
    assert ran(dvc(repo, "repro", "structured_prune")) == ["structured_prune"]
    original, pruned = (models.load_checkpoint(str(repo / path))[0] for path in (MODELS[0], MODELS[2]))
    assert 1 - macs(pruned) / macs(original) >= 0.3 and 1 - count_params(pruned) / count_params(original) >= 0.5
    report = json.loads((repo / "reports/structured_ratios.json").read_text())
    assert report["target"] == {"macs": 0.3, "params": 0.5} and report["params_reduction"] >= 0.5
    (repo / "params.yaml").write_text(params)
    assert ran(dvc(repo, "repro")) == []


def test_budget_bounds_the_combined_validation_drop(repo, params_put_back):
    """With target: null the prune stages search the largest target whose one-shot combined validation
    drop (batch norm recalibrated) is within the budget; checked here on the trained tiny model by evaluating
    independently of the stages the saved structured model and the baseline pruned at the unstructured
    report's levels with torch's own L1 pruning (the unstructured model saved is the fine-tuned one)."""
    import warnings
    from torch.nn.utils import prune
    from lib import models
    from lib.batchnorm import Recalibration, recalibrate_batchnorm
    from lib.data import load_split
    from lib.train import evaluate

    params = (repo / "params.yaml").read_text()
    set_params(repo, {"unstructured_prune": {"sparsities": "auto", "target": None, "budget": 1.0, "schedule": "oneshot",
                                             "allocation": "sensitivity"},
                      "structured_prune": {"ratios": "auto", "target": None, "budget": 1.0}})
    dvc(repo, "repro", "unstructured_prune", "structured_prune")  # what the check reads, not what follows
    val = load_split(str(repo / "data/val.pt"))
    accuracy = {path: evaluate(models.load_checkpoint(str(repo / path))[0], val, 100)["accuracy"]
                for path in MODELS[:3]}
    one_shot, _ = models.load_checkpoint(str(repo / MODELS[0]))
    for name, level in json.loads((repo / "reports/unstructured_sparsities.json").read_text())["sparsities"].items():
        prune.l1_unstructured(models.layer(one_shot, name), "weight", amount=level)
    how = Recalibration(load_split(str(repo / "data/train.pt")), 20, TINY["finetune"]["batch_size"], 0)
    with warnings.catch_warnings():  # the tiny training split holds fewer than 20 batches
        warnings.simplefilter("ignore")
        accuracy[MODELS[1]] = evaluate(recalibrate_batchnorm(one_shot, how), val, 100)["accuracy"]
    for path, chosen in zip(MODELS[1:3], ["unstructured_sparsities", "structured_ratios"]):
        report = json.loads((repo / f"reports/{chosen}.json").read_text())
        assert accuracy[MODELS[0]] - accuracy[path] <= 1.0, path
        assert report["measured_val_drop"]["one_shot"] == pytest.approx(accuracy[MODELS[0]] - accuracy[path])
        assert report["target"] > 0 and report["budget_search"], report
    unstructured = json.loads((repo / "reports/unstructured_sparsities.json").read_text())
    assert unstructured["conv_sparsity"] == pytest.approx(unstructured["target"], abs=1e-4)
    (repo / "params.yaml").write_text(params)
    assert ran(dvc(repo, "repro")) == []  # the recorded run, restored from the run cache


OUTPUT_DIRS = ["data", "models", "reports"]
TIMING_KEYS = {"speedup", "int8"}  # of the DVC metrics files reports/metrics/*.json
TIMING_COLUMNS = {"speedup", "ORT", "ORT int8", "int8 over float"}  # of reports/comparison.md
NOISE_FLOORS = re.compile(r"\d+\.\d % \((pytorch|onnx|int8)\)")  # quoted in comparison.md's note


def files(root):
    return sorted(p.relative_to(root).as_posix() for d in OUTPUT_DIRS for p in (root / d).rglob("*") if p.is_file())


def differing_keys(a, b, prefix=""):
    """Dotted keys whose values differ between two nested JSON objects."""
    if isinstance(a, dict) and isinstance(b, dict):
        return set().union(*[differing_keys(a.get(k), b.get(k), f"{prefix}{k}.") for k in a.keys() | b.keys()])
    return set() if a == b else {prefix.rstrip(".")}


def markdown_table(path, drop):
    """Each line of a markdown file as a list of cells (a table row) or of itself, without the cells of
    the columns whose header is in `drop` (each table's first row names its columns)."""
    out, keep = [], None
    for line in NOISE_FLOORS.sub("(noise floor)", path.read_text()).splitlines():
        if not line.startswith("|"):
            out.append([line])
            keep = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        keep = keep if keep is not None else [i for i, header in enumerate(cells) if header not in drop]
        out.append([cells[i] for i in keep])
    return out


def test_two_runs_are_identical(tiny_runs):
    """Two independent `dvc repro` runs of the tiny configuration (two fresh repos in different
    folders, on this CPU machine: tiny_runs) build every artifact byte for byte the same, except what
    measures wall-clock time: reports/timing.json (nothing but times), the speedup keys of the DVC
    metrics files (TIMING_KEYS), and the latency and speedup columns of reports/comparison.md
    (TIMING_COLUMNS) and the noise floors its note quotes. Data splits, models (.pth, .onnx), the other
    JSON results, dvclive's curves and the figures (PNG) are byte-identical. Both ran with one torch thread
    per process (tiny_project.sh); runs with different thread counts are not compared. By now the shared
    repo has been through the other tests: what they changed, they put back, and `dvc status` must say so."""
    first, second = tiny_runs
    assert "Data and pipelines are up to date" in dvc(first, "status")
    assert files(first) == files(second)
    unexpected = []
    for name in files(first):
        before, after = first / name, second / name
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
    assert not unexpected, f"different in the second run: {unexpected}"


def test_a_seed_sweep_as_the_readme_runs_it(seed_sweep):
    """The README's full-run commands on two seeds of the tiny configuration, in a copy of the
    reproduced project: `make seeds` (one DVC experiment per seed, then tools.seeds' summary from
    `dvc exp show`; started by the seed_sweep fixture), each seed applied and its records collected
    (tools.results collect), the docs rendered from them (`make results`' command), and `dvc params
    diff` / `dvc exp show`. The rendered means agree with the ones computed here from the collected
    evaluations, and with tools.seeds'."""
    work, make = seed_sweep
    assert make.wait() == 0, (work.parent / "make-seeds.log").read_text()
    summary = json.loads((work / "reports/seeds/summary.json").read_text())
    for k in (0, 1):
        dvc(work, "exp", "apply", f"tiny-seed{k}")
        sh(work, sys.executable, "-m", "tools.results", "collect", "--run", "tiny", "--seed", str(k),
           "--workspace", ".")
    assert "seed" in dvc(work, "params", "diff")  # the workspace holds seed 1's experiment, HEAD seed 0
    shown = dvc(work, "exp", "show", "--only-changed", "--csv")
    assert "tiny-seed0" in shown and "tiny-seed1" in shown, shown
    run = work / "results/tiny"
    (run / "run.json").write_text(json.dumps({"summary": "tiny", "command": "make seeds PREFIX=tiny", "budget": "tiny",
                                                   "machine": "CI"}))
    sh(work, sys.executable, "-m", "tools.results", "render", "--run", "tiny")

    assert (run / "seed0/reports/structured_tradeoff.png").exists() and not list((run / "seed1/reports").glob("*.png"))
    params = [yaml.safe_load((run / f"seed{k}/params.yaml").read_text()) for k in (0, 1)]
    assert [p.pop("seed") for p in params] == [0, 1] and params[0] == params[1]
    page = (work / "docs/results-tiny.md").read_text()  # a run's own page; the README's headline is RUN's
    assert "2 seeds (0, 1)" in page and "2 seeds (0, 1)" not in (work / "README.md").read_text()
    for variant, spec in REGISTRY.items():
        accuracies = [json.loads((run / f"seed{k}/reports/eval/{spec['evaluation']}.json").read_text())["test_accuracy"]
                      for k in (0, 1)]
        mean = sum(accuracies) / 2
        assert f"| {variant} | {mean:.2f} ± " in page, (variant, mean)
        assert abs(summary["variants"][variant]["mean"] - mean) < 0.006, variant  # metrics round to 2 decimals
    for figure in ("unstructured_tradeoff", "structured_tradeoff", "seeds"):
        assert (run / f"figures/{figure}.png").stat().st_size > 0


def test_the_documented_exp_show_recipes_fit_a_terminal(seed_sweep):
    """Every `dvc exp show` table the README and docs/ show, run on real experiments (the seed sweep's):
    each fits 160 columns and shows the test accuracy of every variant it keeps (by its short name) and,
    with --only-changed, the param that differs between the experiments (the seed)."""
    from test_doc_commands import documented
    work, make = seed_sweep
    assert make.wait() == 0, (work.parent / "make-seeds.log").read_text()
    recipes = [words for _, words in documented() if words[:3] == ["dvc", "exp", "show"] and "--json" not in words]
    assert recipes
    shorts = [spec["short"] for spec in REGISTRY.values()]
    for words in recipes:
        shown = subprocess.run([sys.executable, "-m", "dvc", *words[1:], "--no-pager"], cwd=work, capture_output=True,
                               text=True, env={**environment(), "COLUMNS": "1000"})
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert max(len(line) for line in lines) <= 160, shown.stdout
        header = next(line for line in lines if "Experiment" in line).replace(",", " ").split()
        wanted = [s for s in shorts if re.search(words[words.index("--keep") + 1], s)]
        assert set(wanted) <= set(header) and "tiny-seed1" in shown.stdout, (words, header)
        assert "seed" in header or "--only-changed" not in words, (words, header)  # the changed param
