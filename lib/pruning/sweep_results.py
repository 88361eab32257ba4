"""A sensitivity sweep's results ({"baseline": {"accuracy", "loss"}, "records": [{"layer", "level",
"accuracy", "loss"}, ...]}, as lib.pruning.sensitivity.sweep returns them): read and checked, and reshaped
for tables and plots. Nothing here prunes or evaluates, so a stage that only reads a sweep (figures)
does not depend on the training code."""
from lib.errors import UserError
from lib.io import load_json, load_torch


def read_results(path):
    """A sweep's results from `path` (.pth as written by unstructured_sensitivity, else JSON), checked."""
    load = load_torch if path.endswith(".pth") else load_json
    results = load(path, "sensitivity results")
    ok = (isinstance(results, dict) and isinstance(results.get("baseline"), dict) and "accuracy" in results["baseline"]
          and isinstance(results.get("records"), list)
          and all(isinstance(r, dict) and {"layer", "level", "accuracy"} <= set(r) for r in results["records"]))
    if not ok:
        raise UserError(f"{path} is not a sensitivity results file of this project: expected {{'baseline': "
                        "{'accuracy', 'loss'}, 'records': [{'layer', 'level', 'accuracy', 'loss'}, ...]}, as the "
                        "sensitivity stages write")
    return results


def layers_and_levels(results):
    """(layers, sorted levels) of a sweep's results."""
    records = results["records"]
    return list(dict.fromkeys(r["layer"] for r in records)), sorted({r["level"] for r in records})


def records_to_rows(results):
    """Tidy rows {"layer", "level", "accuracy", "loss", "drop"} (drop in points from the baseline)."""
    baseline = results["baseline"]["accuracy"]
    return [{**r, "drop": baseline - r["accuracy"]} for r in results["records"]]


def accuracy_by_level(results):
    """Wide rows [{"level": s, "conv1": accuracy, ...}], one per level: a DVC plot with x = level
    and y = the layer names draws one line per layer."""
    layers, levels = layers_and_levels(results)
    accuracy = {(r["layer"], r["level"]): r["accuracy"] for r in results["records"]}
    return [{"level": s, **{name: accuracy[name, s] for name in layers if (name, s) in accuracy}} for s in levels]
