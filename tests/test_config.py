import os

import pytest
import yaml

from conftest import committed_params, load_params
from lib import config
from lib.errors import UserError

GOOD = yaml.safe_load(committed_params())


def write(tmp_path, params):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return str(path)


def edit(section, key, value):
    params = yaml.safe_load(yaml.safe_dump(GOOD))
    params[section][key] = value
    return params


def test_project_params_are_valid():
    load_params(*GOOD, path=config.PARAMS_FILE)


@pytest.mark.parametrize("section,key,value,expected", [
    ("finetune", "epochs", 0, "positive integer"),
    ("finetune", "epochs", -3, "positive integer"),
    ("finetune", "batch_size", 0, "positive integer"),
    ("finetune", "epochs", True, "positive integer"),
    ("finetune", "lr", "fast", "number > 0"),
    ("finetune", "schedule", "step", "onecycle, cosine"),
    ("data", "source", "imagenet", "cifar10, digits"),
    ("model", "head", "resnet", "cifar, imagenet"),
    ("model", "arch", "vgg16", "vgg11, vgg11_bn"),
    ("data", "train_subset", -5, "an integer from 10"),  # at least one image per class
])
def test_bad_values_name_key_value_and_allowed(tmp_path, section, key, value, expected):
    with pytest.raises(UserError) as err:
        load_params(section, path=write(tmp_path, edit(section, key, value)))
    message = str(err.value)
    assert f"{section}.{key}" in message and repr(value) in message and expected in message


def test_misspelt_key_suggests_the_right_one(tmp_path):
    params = yaml.safe_load(yaml.safe_dump(GOOD))
    params["finetune"]["epoch"] = params["finetune"].pop("epochs")
    with pytest.raises(UserError, match=r"unknown key finetune\.epoch\. Did you mean 'epochs'"):
        load_params("finetune", path=write(tmp_path, params))


def test_unknown_top_level_section(tmp_path):
    with pytest.raises(UserError, match="unknown section or key 'fintune'"):
        load_params("seed", path=write(tmp_path, {**GOOD, "fintune": {}}))


def test_missing_key(tmp_path):
    params = yaml.safe_load(yaml.safe_dump(GOOD))
    del params["finetune"]["lr"]
    with pytest.raises(UserError, match=r"missing key finetune\.lr"):
        load_params("finetune", path=write(tmp_path, params))


@pytest.mark.parametrize("value", [[], [0.5, 1.0], [0.2, -0.1], [0.3, 0.3], "0.5"])
def test_level_lists(value):
    assert config.levels(value) is not None


@pytest.mark.parametrize("value,ok", [("auto", True), ({"conv1": 0.5}, True), ({"conv1": 1.0}, False),
                                      ({"conv1": -0.1}, False), ({}, False), ("some", False)])
def test_per_layer_mapping(value, ok):
    assert (config.per_layer(value) is None) == ok


@pytest.mark.parametrize("value,ok", [(0.5, True), ({"macs": 0.5, "params": 0.7}, True), ({"params": 0.7}, True),
                                      ({"flops": 0.5}, False), ({"macs": 1.0}, False), ({}, False), (1.0, False)])
def test_structured_target(value, ok):
    assert (config.reduction_target(value) is None) == ok


@pytest.mark.parametrize("section,key,value,expected", [
    ("unstructured_prune", "target", 1.0, "a number in (0, 1) (or null)"),
    ("structured_prune", "target", {"macs": 0.5, "flops": 0.7}, "a mapping of macs and/or params"),
    ("timing", "fold_batchnorm", "yes", "true or false"),
    ("unstructured_prune", "allocation", "magnitude", "global, lamp, uniform, sensitivity, per_layer"),
    ("unstructured_prune", "schedule", "cubic", "oneshot, gradual"),
    ("unstructured_prune", "gradual_ramp", 0, "a number in (0, 1]"),
    ("structured_prune", "target_kind", "flops", "macs, params"),
    ("structured_prune", "allocation", "global", "sensitivity, uniform, per_layer"),
    ("structured_prune", "round_to", 0, "a positive integer"),
    ("recovery", "epochs", 0, "a positive integer"),
    ("recovery", "schedule", "step", "cosine, onecycle, rewind"),
    ("recovery", "distill_weight", 1.5, "a number in [0, 1]"),
])
def test_bad_pruning_values(tmp_path, section, key, value, expected):
    with pytest.raises(UserError) as err:
        load_params(section, path=write(tmp_path, edit(section, key, value)))
    assert f"{section}.{key}" in str(err.value) and expected in str(err.value)


@pytest.mark.parametrize("values,expected", [
    ({"schedule": "gradual", "target": None}, "gradual pruning is driven by a target"),
])
def test_rules_between_keys(tmp_path, values, expected):
    params = yaml.safe_load(yaml.safe_dump(GOOD))
    params["unstructured_prune"].update(values)
    with pytest.raises(UserError, match=expected):
        load_params("unstructured_prune", path=write(tmp_path, params))
    params["unstructured_prune"]["schedule"] = "oneshot"
    params["unstructured_prune"]["target"] = None
    assert load_params("unstructured_prune", path=write(tmp_path, params))  # one-shot: both are fine


def test_recovery_recipes_are_the_baselines_with_changes():
    from lib.train import Recipe, recipe
    from stages.finetune import Finetune
    base = Finetune(pretrained=False, epochs=30, batch_size=128, lr=0.05, momentum=0.9, weight_decay=5e-4,
                    schedule="onecycle", augment=True, label_smoothing=0.1)
    assert recipe(base, epochs=10, lr=0.01, schedule="cosine") == Recipe(
        epochs=10, batch_size=128, lr=0.01, momentum=0.9, weight_decay=5e-4, schedule="cosine", augment=True,
        label_smoothing=0.1)
    with pytest.raises(AttributeError):  # a recipe is complete: a base without a key the changes do not give fails
        recipe(config.part(Recipe, "epochs")(epochs=1))


def test_params_are_read_as_dvc_reads_them(tmp_path):
    """YAML 1.2 numbers (2e-3, 1e9) are numbers to the stages as to DVC (whose own reader is the reference
    here), and words YAML 1.1 made booleans (yes, on) stay strings: a value never depends on which reads it."""
    from dvc.utils.serialize import load_yaml
    path = tmp_path / "params.yaml"
    path.write_text("a: 2e-3\nb: 1e9\nc: 1.0e+9\nd: 0.001\ne: yes\nf: on\ng: 017\ni: .5\n")
    assert config.parse(str(path)) == dict(load_yaml(str(path))) == {
        "a": 0.002, "b": 1e9, "c": 1e9, "d": 0.001, "e": "yes", "f": "on", "g": 17, "i": 0.5}
    assert yaml.safe_load(path.read_text())["a"] == "2e-3"  # what PyYAML (YAML 1.1) would have read


def test_an_unknown_top_level_key_is_refused_by_the_stage_that_reads_the_whole_file(tmp_path):
    """An unknown top-level name (a misspelt section) no stage reads: check_params, which depends on the
    whole file, refuses it with a close-match hint."""
    import contextlib
    import io
    from stages import check_params
    params = yaml.safe_load(yaml.safe_dump(GOOD))
    params["recovry"] = {"epochs": 3}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    stderr, cwd = io.StringIO(), os.getcwd()
    try:
        os.chdir(tmp_path)
        with contextlib.redirect_stderr(stderr), pytest.raises(SystemExit) as stop:
            check_params.run(check_params.main)
    finally:
        os.chdir(cwd)
    assert stop.value.code == 1 and "unknown section or key 'recovry'. Did you mean 'recovery'?" in \
        " ".join(stderr.getvalue().split())
