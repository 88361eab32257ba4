"""Bad input. Each case runs a real stage (its dvc.yaml command, in this
process: tiny_project.run_stage_here) in a copy of a tiny project, with one thing wrong: a param, an
input file or the machine. It must exit 1 with one paragraph starting with "error:" that names the
key or file, the value and what is allowed, raise no other exception, and leave every file of the
project byte-identical (no new files, so no partial or temporary output either). One undamaged
copy runs as a subprocess, exactly as dvc does (test_the_project_is_valid_as_built). Param values that
every stage checks the same way, in
lib.config before anything else, are covered in-process at the end; a subprocess adds nothing there.

Safe loading: every artifact is read through lib.io.load_torch (torch.load(weights_only=True)); a
file carrying a pickled object that would run code is refused, and the code never runs."""
import ast
import json
import os
import re
import tarfile

import pytest
import torch
import yaml
from torchvision.io import write_png

from conftest import ROOT, SMALL_FILTERS, load_params
from lib import models, sources
from lib.errors import UserError
from lib.io import load_torch
from lib.sources import CLASSES
from tiny_project import SMALL_PRUNED, clone_project, make_project, run_stage, run_stage_here, set_params, snapshot

pytestmark = [pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning"),  # torchvision 0.29
              pytest.mark.filterwarnings("ignore:Detected pickle protocol 4:UserWarning")]
MARKER = "PWNED"  # created in the stage's working folder if a payload ever runs


class RunsCode:
    """Unpickling this calls func(arg): os.system runs a shell command, exec runs Python."""

    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg,)


SHELL_PAYLOAD = RunsCode(os.system, f"touch {MARKER}")
PYTHON_PAYLOAD = RunsCode(exec, f"open({MARKER!r}, 'w').close()")


# --- the tiny project, built once --------------------------------------------------------------

def image_tree(root, classes):
    for split in ("train", "test"):
        for label, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            write_png(torch.full((3, 32, 32), 20 * label, dtype=torch.uint8), str(root / split / name / "0.png"))
    return root


def tar_of(folder, path, mode="w"):
    with tarfile.open(path, mode) as tar:
        tar.add(folder, arcname=folder.name)
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The tiny project plus local dataset copies under src/ for the download stage's cases."""
    folder = make_project(tmp_path_factory.mktemp("bad_input") / "project")
    src = folder / "src"
    image_tree(src / "images_without_truck", [c for c in CLASSES if c != "truck"])
    whole = tar_of(image_tree(tmp_path_factory.mktemp("tree") / "cifar10", CLASSES), src / "images.tar")
    with tarfile.open(whole) as tar:  # cut at a member's header: tarfile alone reads it as a shorter archive
        cut = tar.getmembers()[len(tar.getmembers()) // 2].offset
    (src / "truncated.tar").write_bytes(whole.read_bytes()[:cut])
    whole.unlink()
    (src / "corrupt.tar.gz").write_bytes(os.urandom(4096))
    fake = tmp_path_factory.mktemp("fake") / "cifar-10-batches-py"  # looks official, wrong bytes
    fake.mkdir()
    (fake / "data_batch_1").write_bytes(os.urandom(1000))
    tar_of(fake, src / "cifar-10-python.tar.gz", "w:gz")
    return folder


# --- what goes wrong in each case ----------------------------------------------------------------

def params(**edits):
    """Set params, written section__key=value (a bare key for a top-level one)."""
    def edit(p):
        for name, value in edits.items():
            *section, key = name.split("__")
            (p[section[0]] if section else p)[key] = value
    return lambda folder: set_params(folder, edit)


def local_copy(path):
    return params(data__source="cifar10", data__local_path=path)


def renamed_section(old, new):
    def edit(p):
        p[new] = p.pop(old)
    return lambda folder: set_params(folder, edit)


def truncated(path):
    def damage(folder):
        data = (folder / path).read_bytes()
        (folder / path).write_bytes(data[: len(data) // 2])
    return damage


def saved(path, make):
    """Replace `path` with torch.save(make()) (a plain torch.save: payloads included)."""
    return lambda folder: torch.save(make(), folder / path)


def written(path, text):
    return lambda folder: (folder / path).write_text(text)


def checkpoint(arch_filters, state_filters, arch_name="vgg11_bn"):
    """A checkpoint whose architecture and state_dict may disagree."""
    state = models.build(models.architecture("vgg11_bn", "cifar", 10, state_filters)).state_dict()
    return {"architecture": {**models.architecture("vgg11_bn", "cifar", 10, arch_filters), "arch": arch_name},
            "state_dict": state}


def nan_checkpoint(filters):
    """A checkpoint of a model whose training diverged: its first weight NaN."""
    arch = models.architecture("vgg11_bn", "cifar", 10, filters)
    state = models.build(arch).state_dict()
    state["features.0.weight"][0, 0, 0, 0] = float("nan")
    return {"architecture": arch, "state_dict": state}


BASELINE = "models/vgg11_cifar10_finetuned.pth"
CASES = [
    # download
    pytest.param("download", local_copy("src/nowhere"),
                 ["params.yaml: data.local_path: 'src/nowhere' does not exist",
                  "expected the official cifar-10-python.tar.gz"],
                 id="missing-local-path"),
    pytest.param("download", local_copy("src/corrupt.tar.gz"),
                 ["params.yaml: data.local_path: src/corrupt.tar.gz: cannot read the archive",
                  "truncated, corrupt or not a tar",
                  "Accepted: the official"], id="corrupt-archive"),
    pytest.param("download", local_copy("src/truncated.tar"),
                 ["params.yaml: data.local_path: src/truncated.tar: cannot read the archive",
                  "truncated, corrupt or not a tar",
                  "ends before its end-of-archive marker"], id="truncated-archive"),
    pytest.param("download", local_copy("src/cifar-10-python.tar.gz"),
                 ["params.yaml: data.local_path: src/cifar-10-python.tar.gz looks like the official CIFAR-10 archive "
                  "but its md5 "
                  "is", "not c58f30108f718f92721af3b95e74349a", "download it again"], id="md5-mismatch"),
    pytest.param("download", local_copy("src/images_without_truck"),
                 ["params.yaml: data.local_path: src/images_without_truck: the train split has no folder (or no "
                  "images) for the "
                  "class(es) truck", "exactly the 10 CIFAR-10 classes"], id="image-folder-missing-class"),
    # finetune
    pytest.param("finetune", renamed_section("finetune", "fintune"),
                 ["unknown section or key 'fintune'", "Did you mean 'finetune'?",
                  "Allowed: seed, device, precision, deterministic, data"],
                 id="misspelt-top-level-key"),
    pytest.param("finetune", params(device="cuda"),
                 ["params.yaml: device = 'cuda' is not allowed; expected 'auto' or a device this machine has: cpu "
                  "(cuda is not "
                  "available on this machine)"],
                 id="cuda-without-cuda",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")),
    pytest.param("finetune", truncated("data/train.pt"),
                 ["cannot read data split data/train.pt: the file is truncated, corrupt or not a PyTorch file",
                  "dvc repro"], id="truncated-data-split"),
    pytest.param("finetune", saved("data/val.pt", lambda: {"images": PYTHON_PAYLOAD, "labels": [], "classes": []}),
                 ["refusing to load data split data/val.pt: it holds pickled Python objects (exec)",
                  "only tensors and plain data"], id="pickled-object-in-data-split"),
    pytest.param("finetune", params(finetune__lr=1e9),
                 ["params.yaml: finetune.lr: epoch 1 of 1: the training loss is not finite (NaN or infinite) from "
                  "step", "training diverged; the learning rate (1e+09) is likely too high"], id="diverging-lr"),
    pytest.param("finetune", params(finetune__batch_size=100_000),
                 ["params.yaml: finetune.batch_size: a training batch of 100,000 images is larger than the training "
                  "split (40 images); use at most 40"], id="batch-larger-than-the-split"),
    # unstructured_sensitivity
    pytest.param("unstructured_sensitivity", saved(BASELINE, lambda: nan_checkpoint(SMALL_FILTERS)),
                 [f"checkpoint {BASELINE} holds weights that are not finite (NaN or infinite, first in "
                  "features.0.weight)", "re-run the stage that writes it"], id="non-finite-weights"),
    pytest.param("unstructured_sensitivity", truncated(BASELINE),
                 [f"cannot read checkpoint {BASELINE}: the file is truncated, corrupt or not a PyTorch file"],
                 id="truncated-checkpoint"),
    # unstructured_prune
    pytest.param("unstructured_prune", params(unstructured_prune__sparsities={"conv9": 0.5}),
                 ["params.yaml: unstructured_prune.sparsities: unknown layer 'conv9'",
                  "allowed: conv1, conv2, conv3, conv4, conv5, conv6, conv7, conv8, fc1"], id="unknown-layer-name"),
    pytest.param("unstructured_prune", saved("reports/unstructured_sensitivity_results.pth",
                                             lambda: {"baseline": SHELL_PAYLOAD, "records": []}),
                 ["refusing to load sensitivity results reports/unstructured_sensitivity_results.pth: it holds "
                  "pickled Python objects (posix.system)"], id="pickled-object-in-results"),
    pytest.param("unstructured_prune", saved(BASELINE, lambda: {"weights": torch.zeros(3)}),
                 [f"{BASELINE} is not a checkpoint of this project: it holds a dict with keys weights",
                  "expected a dict with 'architecture' and 'state_dict'"], id="foreign-checkpoint"),
    pytest.param("unstructured_prune", params(unstructured_prune__gradual_every=1000),
                 ["params.yaml: unstructured_prune.gradual_every: 1000 leaves fewer than 3 mask updates in the 30 "
                  "steps of the schedule's ramp (50 training steps)", "lower it"], id="gradual-schedule-too-coarse"),
    pytest.param("unstructured_prune", params(unstructured_prune__allocation="sensitivity",
                                              unstructured_prune__target=0.95),
                 ["a pruning target of 0.95 cannot be reached within the tested levels of the sensitivity sweep: "
                  "at most 0.9000", "Lower the target"], id="target-beyond-the-sweep"),
    # structured_sensitivity
    pytest.param("structured_sensitivity", params(structured_sensitivity__ratios=[0.5, 0.95]),
                 ["params.yaml: structured_sensitivity.ratios: removing a fraction 0.95 of the 8 filters of conv1 "
                  "would leave 0 filters", "keeps at least one"], id="ratio-removes-every-filter-in-sweep"),
    # structured_prune
    pytest.param("structured_prune", params(structured_prune__ratios={"conv1": 0.99}),
                 ["params.yaml: structured_prune.ratios: removing a fraction 0.99 of the 8 filters of conv1 would "
                  "leave 0 filters", "use a ratio in [0, 1) that keeps at least one"], id="ratio-leaves-no-filters"),
    pytest.param("structured_prune", saved(BASELINE, lambda: checkpoint(SMALL_PRUNED, SMALL_FILTERS)),
                 [f"checkpoint {BASELINE} does not match its architecture", "size mismatch for features.0.weight",
                  "must hold the tensors of exactly that architecture"], id="architecture-mismatch"),
    pytest.param("structured_prune", saved(BASELINE, lambda: {"architecture": SHELL_PAYLOAD, "state_dict": {}}),
                 [f"refusing to load checkpoint {BASELINE}: it holds pickled Python objects (posix.system)",
                  "only tensors and plain data"], id="pickled-object-in-checkpoint"),
    pytest.param("structured_prune", params(structured_prune__allocation="uniform", structured_prune__target=0.99),
                 ["a pruning target of 0.99 cannot be reached with the same level in every layer (up to 0.875)"],
                 id="target-beyond-one-filter-per-layer"),
    pytest.param("structured_prune", params(finetune__batch_size=50),  # batch norm recalibrates on such batches
                 ["params.yaml: finetune.batch_size: a training batch of 50 images is larger than the training split "
                  "(40 images)"], id="recalibration-without-a-full-batch"),
    pytest.param("structured_prune", params(structured_prune__round_to=1000),
                 ["params.yaml: structured_prune.round_to: 1000 is larger than the filter count of conv1 (8), "
                  "conv2 (16)", "fewer filters than one multiple; use a round_to of at most 8"],
                 id="round-to-larger-than-a-layer"),
    # structured_tradeoff
    pytest.param("structured_tradeoff", params(structured_prune__round_to=16),
                 ["params.yaml: structured_prune.round_to: 16 is larger than the filter count of conv1 (8): filter "
                  "counts are rounded"], id="tradeoff-round-to-larger-than-a-layer"),
    # the controls
    pytest.param("dense_extra", truncated(BASELINE), [f"cannot read checkpoint {BASELINE}"],
                 id="control-truncated-baseline"),
    pytest.param("scratch", saved("models/vgg11_cifar10_structured_pruned.pth", lambda: {"weights": torch.zeros(3)}),
                 ["models/vgg11_cifar10_structured_pruned.pth is not a checkpoint of this project"],
                 id="scratch-foreign-checkpoint"),
    # structured_finetune
    pytest.param("structured_finetune", params(recovery__schedule="rewind", recovery__epochs=5),
                 ["params.yaml: recovery.epochs: learning-rate rewinding replays the last epochs of the baseline's 1",
                  "cannot rewind that far"], id="rewind-beyond-the-baseline"),
    # evaluate: every checkpoint and record checked before any is measured
    pytest.param("evaluate", written("reports/records/scratch.json", '{"epochs": 9'),
                 ["cannot read stage record reports/records/scratch.json: it is not valid JSON"],
                 id="corrupt-stage-record"),
    pytest.param("evaluate", truncated("models/vgg11_cifar10_structured_random.pth"),
                 ["cannot read checkpoint models/vgg11_cifar10_structured_random.pth"], id="evaluate-truncated-last"),
    pytest.param("structured_finetune", saved("models/vgg11_cifar10_structured_pruned.pth",
                                              lambda: checkpoint(SMALL_PRUNED, SMALL_PRUNED, "vgg16")),
                 ["checkpoint models/vgg11_cifar10_structured_pruned.pth has an invalid architecture",
                  "arch must be one of vgg11, vgg11_bn"], id="invalid-architecture"),
    # gradcam: the last of four checkpoints is bad; all are checked before any CAM is computed
    pytest.param("gradcam", truncated("models/vgg11_cifar10_structured_pruned_finetuned.pth"),
                 ["cannot read checkpoint models/vgg11_cifar10_structured_pruned_finetuned.pth"],
                 id="truncated-last-checkpoint"),
    # compare
    pytest.param("compare", written("reports/eval/structured_pruned.json", '{"accuracy": 90}'),
                 ["metrics file reports/eval/structured_pruned.json lacks test_accuracy, params",
                  "expected a JSON object with"], id="foreign-metrics"),
]


def error_paragraph(stderr):
    """The final `error:` paragraph of stderr, whitespace-normalised (the message is wrapped at 100
    columns; a break after a hyphen is undone)."""
    assert "Traceback" not in stderr, stderr
    _, found, message = stderr.rpartition("\nerror: ")
    assert found, f"no 'error:' paragraph in stderr:\n{stderr}"
    assert "\n\n" not in message.strip(), f"more than one paragraph:\n{message}"
    return "error: " + " ".join(re.sub(r"-\n", "-", message).split())


@pytest.mark.parametrize("stage,damage,expected", CASES)
def test_stage_refuses_bad_input(template, tmp_path, stage, damage, expected):
    folder = clone_project(template, tmp_path / "project")
    damage(folder)
    before = snapshot(folder)
    code, stderr = run_stage_here(folder, stage)
    assert code == 1, stderr
    message = error_paragraph(stderr)
    for part in expected:
        assert part in message, f"{part!r} not in: {message}"
    assert snapshot(folder) == before, "a file of the project was changed, removed or created"
    assert not (folder / MARKER).exists()


def test_the_project_is_valid_as_built(template, tmp_path):
    """Guard for the cases above: undamaged, the project passes every check (compare runs to the end)."""
    folder = clone_project(template, tmp_path / "project")
    result = run_stage(folder, "compare")
    assert result.returncode == 0, result.stderr
    load_params(*yaml.safe_load((folder / "params.yaml").read_text()), path=str(folder / "params.yaml"))


def test_linear_sparsity_applies_beside_an_explicit_mapping(template, tmp_path):
    """An explicit mapping of conv levels leaves the classifier to linear_sparsity; a mapping that names a
    linear layer sets that layer instead."""
    folder = clone_project(template, tmp_path / "project")
    for mapping, fc1 in [({"conv1": 0.5}, 0.25), ({"conv1": 0.5, "fc1": 0.75}, 0.75)]:
        params(unstructured_prune__sparsities=mapping, unstructured_prune__linear_sparsity=0.25,
               unstructured_prune__schedule="oneshot", recovery__epochs=1)(folder)
        code, stderr = run_stage_here(folder, "unstructured_prune")
        assert code == 0, stderr
        layers = json.loads((folder / "reports/unstructured_sparsities.json").read_text())["achieved"]
        assert layers["conv1"] == pytest.approx(0.5) and layers["conv2"] == 0, layers
        assert layers["fc1"] == pytest.approx(fc1, abs=1e-3), layers


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_an_archive_cut_anywhere_is_refused(tmp_path, mode):
    """A download or copy that stopped early: every cut of the archive is an error (tarfile alone reads
    an archive cut at a member boundary as a shorter, valid one), and the whole archive reads."""
    archive = tar_of(image_tree(tmp_path / "cifar10", CLASSES), tmp_path / "images.tar", mode)
    assert len(sources.read("cifar10", str(archive), 0)["train_labels"]) == len(CLASSES)
    data, cut_path = archive.read_bytes(), tmp_path / "cut.tar"
    end = len(data.rstrip(b"\0")) + 2 * tarfile.BLOCKSIZE  # a plain tar is complete from here (zero padding)
    for cut in range(100, min(len(data), end), max(1, len(data) // 50)):
        cut_path.write_bytes(data[:cut])
        with pytest.raises(UserError, match="cannot read the archive"):
            sources.read("cifar10", str(cut_path), 0)


# --- param values every stage checks the same way (lib.config, first thing in each stage) ---------

GOOD = yaml.safe_load(open(os.path.join(ROOT, "params.yaml")))


@pytest.mark.parametrize("section,key,value,allowed", [
    ("finetune", "epochs", 0, "a positive integer"),
    ("recovery", "epochs", -2, "a positive integer"),
    ("finetune", "batch_size", 0, "a positive integer"),
    ("finetune", "batch_size", -32, "a positive integer"),
    ("measure", "batch_size", 0, "a positive integer"),
    ("model", "head", "resnet", "one of: cifar, imagenet"),
    ("model", "width", 0, "a number in (0, 1]"),
    ("model", "width", 2, "a number in (0, 1]"),
    ("data", "source", "imagenet", "one of: cifar10, digits"),
    ("unstructured_sensitivity", "sparsities", [], "a non-empty list of distinct numbers in (0, 1)"),
    ("unstructured_sensitivity", "sparsities", [0.5, 1.0], "a non-empty list of distinct numbers in (0, 1)"),
    ("unstructured_sensitivity", "histogram_sparsity", -0.5, "a number in [0, 1)"),
    ("unstructured_prune", "sparsities", {"conv1": 1.5}, "'auto' or a mapping layer -> number in [0, 1)"),
    ("structured_sensitivity", "ratios", [-0.1, 0.5], "a non-empty list of distinct numbers in (0, 1)"),
    ("structured_sensitivity", "ratios", [], "a non-empty list of distinct numbers in (0, 1)"),
    ("structured_sensitivity", "figure_ratio", 1.0, "a number in [0, 1)"),
    ("structured_prune", "ratios", {"conv8": 1.0}, "'auto' or a mapping layer -> number in [0, 1)"),
    ("structured_prune", "ratios", {}, "'auto' or a mapping layer -> number in [0, 1)"),
    ("gradcam", "target_layer", "conv9", "one of conv1 ... conv8"),
    # bounds: every class keeps an image, a figure that fits, no boolean for a number
    ("data", "train_subset", 5, "an integer from 10 to 1,000,000,000 (at least one image per class: both sources "
                                "have 10 classes)"),
    ("data", "test_subset", 9, "an integer from 10 to 1,000,000,000 (at least one image per class"),
    ("data", "val_size", 3, "an integer from 10 to 1,000,000,000 (at least one image per class"),
    ("gradcam", "num_images", 10000, "an integer from 1 to 32 (the figure shows one row per image)"),
    ("gradcam", "top_k", True, "a number in (0, 1]"),
    ("finetune", "lr", True, "a number > 0"),
    ("unstructured_prune", "target", True, "a number in (0, 1) (or null)"),
    ("timing", "latency_runs", 2, "an integer from 4 to 100,000 (quartiles need 4 rounds)"),
    ("timing", "warmup", False, "an integer >= 0"),
    ("unstructured_tradeoff", "targets", [0.5, 1.0], "a non-empty list of distinct numbers in (0, 1)"),
    ("structured_tradeoff", "targets", 0.5, "a non-empty list of distinct numbers in (0, 1)"),
    ("gradcam", "road_percentiles", [20, 100], "a non-empty list of distinct integers in (0, 100)"),
    ("gradcam", "method", "scorecam", "one of: gradcam, gradcampp, layercam"),
    # the recovery recipe, int8 deployment, batch-norm recalibration of the one-shot measurements
    ("recovery", "lr", 0, "a number > 0"),
    ("recovery", "schedule", "linear", "one of: cosine, onecycle, rewind"),
    ("recovery", "distill_weight", 1.5, "a number in [0, 1]"),
    ("recovery", "distill_weight", True, "a number in [0, 1]"),
    ("recovery", "distill_temperature", 0, "a number > 0"),
    ("recovery", "distill_scratch", "yes", "true or false"),
    ("quantize", "calibration", "kl", "one of: minmax, entropy, percentile"),
    ("quantize", "calibration_images", 0, "a positive integer"),
    ("quantize", "reduce_range", "maybe", "auto, true or false"),
    ("unstructured_prune", "bn_recalibration_batches", -1, "an integer >= 0"),
], ids=lambda v: str(v))
def test_bad_param_value(tmp_path, section, key, value, allowed):
    edited = yaml.safe_load(yaml.safe_dump(GOOD))
    edited[section][key] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(edited))
    with pytest.raises(UserError) as err:
        load_params(section, path=str(path))
    assert f"{section}.{key} = {value!r} is not allowed; expected {allowed}" in str(err.value)


@pytest.mark.parametrize("value", [-1, 2**32, 2**64, True, 0.5])
def test_seed_out_of_range(tmp_path, value):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({**GOOD, "seed": value}))
    with pytest.raises(UserError) as err:
        load_params("seed", path=str(path))
    assert (f"seed = {value!r} is not allowed; expected an integer from 0 to 4,294,967,295 (NumPy's seed range)"
            in str(err.value))


@pytest.mark.parametrize("text,kind", [("- seed: 0\n- device: cpu\n", "list"), ("42\n", "int"),
                                       ("just text\n", "str")])
def test_params_file_that_is_not_a_mapping(tmp_path, text, kind):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=f"params.yaml must be a mapping of sections .* it holds a {kind}"):
        load_params("seed", path=str(path))


def test_misspelt_key_inside_a_section(tmp_path):
    edited = yaml.safe_load(yaml.safe_dump(GOOD))
    edited["recovery"]["shedule"] = edited["recovery"].pop("schedule")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(edited))
    with pytest.raises(UserError, match=r"unknown key recovery\.shedule\. Did you mean 'schedule'\? "
                                        r"Allowed keys in recovery: epochs, lr, schedule"):
        load_params("recovery", path=str(path))


# --- safe loading -------------------------------------------------------------------------------

def test_every_torch_load_is_weights_only():
    """All artifacts are read through lib.io.load_torch, the project's one torch.load, with weights_only=True."""
    calls = []
    for folder in ("lib", "stages"):
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            if name.endswith(".py"):
                tree = ast.parse(open(os.path.join(ROOT, folder, name)).read())
                loads = [node for node in ast.walk(tree)
                         if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load"]
                calls += [(f"{folder}/{name}", {k.arg: ast.literal_eval(k.value) for k in node.keywords
                                                if k.arg == "weights_only"}) for node in loads]
    assert calls == [("lib/io.py", {"weights_only": True})]


@pytest.mark.parametrize("payload", [SHELL_PAYLOAD, PYTHON_PAYLOAD], ids=["os.system", "exec"])
@pytest.mark.parametrize("protocol", [2, 4])
def test_payload_is_refused_and_never_runs(tmp_path, monkeypatch, payload, protocol):
    monkeypatch.chdir(tmp_path)
    torch.save({"architecture": payload, "state_dict": {}}, "evil.pth", pickle_protocol=protocol)
    with pytest.raises(UserError, match="refusing to load|cannot read"):
        load_torch("evil.pth", "checkpoint")
    with pytest.raises(UserError):
        models.load_checkpoint("evil.pth")
    assert not (tmp_path / MARKER).exists()


def test_the_payload_is_live(tmp_path, monkeypatch):
    """What the refusal prevents: an unsafe load (weights_only=False) of such a file runs its code."""
    monkeypatch.chdir(tmp_path)
    torch.save({"architecture": PYTHON_PAYLOAD}, "evil.pth")
    torch.load("evil.pth", weights_only=False)
    assert (tmp_path / MARKER).exists()


def test_pickled_sensitivity_results_need_dvc_repro_not_weights_only_false(tmp_path):
    torch.save({"baseline": PYTHON_PAYLOAD}, tmp_path / "results.pth")
    with pytest.raises(UserError) as err:
        load_torch(str(tmp_path / "results.pth"), "sensitivity results")
    assert "never load it with weights_only=False" in str(err.value)
