"""What both prune stages and both trade-off stages do around their family's pruning, written once: the
baseline with its sweep's predicted-drop curves, the validation drop of a pruned model, the report of
the chosen levels, and the trade-off loop over targets and allocations."""
from types import SimpleNamespace

from lib import models
from lib.io import save_json
from lib.measure import read_metrics
from lib.pruning import allocation
from lib.pruning.sensitivity import read_results
from lib.train import evaluate


def baseline(args, device):
    """The baseline (--model) and what is read beside it: its architecture, classes and conv names, its
    metrics (--baseline-metrics), its sensitivity sweep (--results) and that sweep's curves."""
    model, ckpt = models.load_checkpoint(args.model, device)
    convs = models.layer_names(model)
    results = read_results(args.results)
    return SimpleNamespace(model=model, ckpt=ckpt, arch=ckpt["architecture"], classes=ckpt.get("classes"), convs=convs,
                           metrics=read_metrics(args.baseline_metrics), results=results,
                           curves=allocation.curves(results, convs))


def validation(base_model, val, batch_size, device):
    """(the baseline's validation accuracy, accuracy(model): a model's validation accuracy): a pruned
    model's validation drop is the first minus the second."""
    def accuracy(model):
        return evaluate(model, val, batch_size, device)["accuracy"]

    return accuracy(base_model), accuracy


def save_chosen(path, p, setting, levels, target, trace, curves, measured_drop, **details):
    """The chosen-levels report of a prune stage: where its levels came from (`setting`, the key of the
    explicit mapping or "auto" in its section `p`), the allocation, target, budget and budget search,
    the levels, their predicted drop (the sweep's curves, summed) and measured validation drop, and
    the family's `details`."""
    predicted = allocation.predicted_drops(curves, levels)
    save_json({"from": "explicit" if p[setting] != "auto" else "auto", "allocation": p["allocation"],
               "target": target, "budget": p["budget"], "budget_search": trace, setting: levels,
               "predicted_drop": {"per_layer": predicted, "sum": sum(predicted.values())},
               "measured_val_drop": measured_drop, **details}, path)


def tradeoff(targets, allocators, score, axis):
    """The rows of a trade-off curve: for each target (ascending), {"target", and per allocation that
    reaches it, what score(name, levels) returns: {name: accuracy, ...}}; allocators are {name:
    (allocate, reachable)}. Each row is printed as it is measured (`axis` names the target)."""
    rows = []
    for target in sorted(targets):
        row = {"target": target}
        for name, (allocate, reachable) in allocators.items():
            if target <= reachable:  # e.g. the sensitivity allocation reaches only the sweep's largest levels
                row.update(score(name, allocate(target)))
        rows.append(row)
        print(f"{axis} {target:.2f}: " + ", ".join(
            f"{name} {row[name]:.2f}%" + (f" (achieved {row[name + '_achieved']:.3f})" if f"{name}_achieved" in row
                                          else "") for name in allocators if name in row))
    return rows
