"""unstructured_tradeoff: the accuracy-versus-compression curve of unstructured pruning. At each overall
conv sparsity of unstructured_tradeoff.targets, every allocation (global, LAMP, uniform, sensitivity)
prunes the baseline one-shot by the variant's criterion and is scored on the test split -> the curves (a
DVC plot) and the figure's labels (stage figures draws them beside the trained variant and its controls)."""
import dataclasses

from lib import config, models, stage
from lib.config import setting
from lib.errors import run
from lib.io import save_json
from lib.pruning import study, unstructured_allocation
from lib.pruning.unstructured import UnstructuredPrune, one_shot
from lib.train import evaluate

METHODS = ("global", "lamp", "uniform", "sensitivity")


@dataclasses.dataclass(frozen=True)
class UnstructuredTradeoff:
    targets: list = setting(config.levels)  # overall conv sparsities


PARAMS = {**stage.COMMON, "unstructured_tradeoff": UnstructuredTradeoff,
          "unstructured_prune": config.part(UnstructuredPrune, "criterion")}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--results", "--plot-data", "--figure-data"], PARAMS, splits=("test",))
    base = study.baseline(args.model, args.results, device)
    weights = {name: models.layer(base.model, name).weight for name in base.convs}
    criterion = params.unstructured_prune.criterion

    def score(method, target):  # one-shot, by the variant's criterion, on the test split
        if target > unstructured_allocation.reachable(method, weights, base.curves):
            return {}
        levels = unstructured_allocation.allocate(method, target, weights, base.curves)
        model = one_shot(base.model, levels, criterion, params.seed)
        return {method: evaluate(model, data["test"], params.measure.batch_size)["accuracy"]}

    save_json(study.tradeoff(params.unstructured_tradeoff.targets, METHODS, score, "sparsity"), args.plot_data)
    save_json({"methods": METHODS, "xlabel": "overall conv sparsity (fraction of conv weights zeroed)",
               "title": "Unstructured pruning: test accuracy against sparsity"}, args.figure_data)


if __name__ == "__main__":
    run(main)
