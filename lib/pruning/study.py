"""What both prune stages and both trade-off stages do around their family's pruning, written once: the
baseline with its sweep's predicted-drop curves, the report of the chosen levels, and the trade-off loop
over targets and allocations."""
from types import SimpleNamespace

from lib import models
from lib.pruning import allocation
from lib.pruning.sweep_results import read_results


def baseline(model_path, results_path, device):
    """The baseline model and what is read beside it: its checkpoint's entries, architecture and conv names,
    its sensitivity sweep (`results_path`) and that sweep's curves (lib.pruning.allocation.curves)."""
    model, ckpt = models.load_checkpoint(model_path, device)
    convs = models.layer_names(model)
    results = read_results(results_path)
    return SimpleNamespace(model=model, ckpt=ckpt, arch=ckpt["architecture"], convs=convs, results=results,
                           curves=allocation.curves(results, convs))


def chosen(p, mapping, levels, target, trace, curves):
    """The chosen-levels report of a prune stage, before its measurements: where its levels came from (the
    section `p`'s explicit `mapping` key, or "auto"), the allocation, target, budget and budget search
    (`trace`), the levels and their predicted drop (the sweep's `curves`, summed)."""
    predicted = allocation.predicted_drops(curves, levels)
    return {"from": "explicit" if getattr(p, mapping) != "auto" else "auto", "allocation": p.allocation,
            "target": target, "budget": p.budget, "budget_search": trace, mapping: levels,
            "predicted_drop": {"per_layer": predicted, "sum": sum(predicted.values())}}


def tradeoff(targets, methods, score, axis):
    """The rows of a trade-off curve: for each target (ascending), {"target", and per allocation method
    what score(method, target) returns ({method: accuracy, ...}; nothing where the method cannot reach
    the target)}. Each row is printed as it is measured (`axis` names the target)."""
    rows = []
    for target in sorted(targets):
        row = {"target": target}
        for method in methods:
            row.update(score(method, target))
        rows.append(row)
        print(f"{axis} {target:.2f}: " + ", ".join(
            f"{name} {row[name]:.2f}%" + (f" (achieved {row[name + '_achieved']:.3f})" if f"{name}_achieved" in row
                                          else "") for name in methods if name in row))
    return rows
