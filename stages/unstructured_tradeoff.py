"""unstructured_tradeoff: the accuracy-versus-compression curve of unstructured pruning. At each overall
conv sparsity of unstructured_tradeoff.targets, every allocation (global, LAMP, uniform, sensitivity)
prunes the baseline one-shot by the variant's criterion and is scored on the test split, before and after
a batch-norm recalibration (unstructured_prune.bn_recalibration_batches) -> the curves (a DVC plot) and
the figure's labels (stage figures draws them beside the trained variant and its controls)."""
import dataclasses

from lib import config, models, stage
from lib.batchnorm import Recalibration, recalibrate_batchnorm
from lib.config import setting
from lib.errors import run
from lib.io import save_json
from lib.pruning import study, unstructured_allocation
from lib.pruning.unstructured import UnstructuredPrune, one_shot
from lib.train import Recipe, evaluate

METHODS = ("global", "lamp", "uniform", "sensitivity")


@dataclasses.dataclass(frozen=True)
class UnstructuredTradeoff:
    targets: list = setting(config.levels)  # overall conv sparsities


PARAMS = {**stage.COMMON, "unstructured_tradeoff": UnstructuredTradeoff,
          "unstructured_prune": config.part(UnstructuredPrune, "criterion", "bn_recalibration_batches"),
          "finetune": config.part(Recipe, "batch_size")}  # of the batch-norm recalibration batches


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--results", "--plot-data", "--figure-data"], PARAMS, splits=("train", "test"))
    base = study.baseline(args.model, args.results, device)
    weights = {name: models.layer(base.model, name).weight for name in base.convs}
    p, batch = params.unstructured_prune, params.measure.batch_size
    recalibration = Recalibration(data["train"], p.bn_recalibration_batches, params.finetune.batch_size, params.seed)

    def score(method, target):  # one-shot by the variant's criterion, on the test split, before and after recalibrating
        if target > unstructured_allocation.reachable(method, weights, base.curves):
            return {}
        model = one_shot(base.model, unstructured_allocation.allocate(method, target, weights, base.curves),
                         p.criterion, params.seed)
        before = evaluate(model, data["test"], batch)["accuracy"]
        if not recalibration.batches:
            return {method: before}
        return {method: evaluate(recalibrate_batchnorm(model, recalibration), data["test"], batch)["accuracy"],
                f"{method}_before_recalibration": before}

    save_json(study.tradeoff(params.unstructured_tradeoff.targets, METHODS, score, "sparsity"), args.plot_data)
    save_json({"methods": METHODS, "xlabel": "overall conv sparsity (fraction of conv weights zeroed)",
               "title": "Unstructured pruning: test accuracy against sparsity"}, args.figure_data)


if __name__ == "__main__":
    run(main)
