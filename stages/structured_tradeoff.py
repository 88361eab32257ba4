"""structured_tradeoff: the accuracy-versus-compression curve of structured pruning. At each MAC (or
parameter, structured_prune.target_kind) reduction of structured_tradeoff.targets, every allocation
(uniform, sensitivity) removes filters from the baseline one-shot, batch norm recalibrated, and is scored
on the test split -> the curves (a DVC plot) and the figure's labels (stage figures draws them beside the
structured variant before and after its recovery and its controls)."""
import dataclasses

from lib import config, cost, stage
from lib.batchnorm import Recalibration
from lib.config import setting
from lib.errors import param, run
from lib.io import save_json
from lib.pruning import structured_allocation, study
from lib.pruning.structured import StructuredPrune, check_round_to, criterion_scores, smaller
from lib.train import Recipe, evaluate

METHODS = ("uniform", "sensitivity")


@dataclasses.dataclass(frozen=True)
class StructuredTradeoff:
    targets: list = setting(config.levels)  # fractions of structured_prune.target_kind removed


PARAMS = {**stage.COMMON, "structured_tradeoff": StructuredTradeoff,
          "structured_prune": config.part(StructuredPrune, "target_kind", "round_to", "bn_recalibration_batches",
                                          "criterion"),
          "finetune": config.part(Recipe, "batch_size")}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--results", "--plot-data", "--figure-data"], PARAMS)
    p, kind, batch = params.structured_prune, params.structured_prune.target_kind, params.measure.batch_size
    base = study.baseline(args.model, args.results, device)
    with param("structured_prune.round_to"):
        check_round_to(base.arch["filters"], base.convs, p.round_to)
    scores = criterion_scores(base.model, p.criterion, params.seed, data["val"], batch)
    recalibration = Recalibration(data["train"], p.bn_recalibration_batches, params.finetune.batch_size, params.seed)

    def score(method, target):  # one-shot, ranked and recalibrated as structured_prune does, on the test split
        if target > structured_allocation.reachable(method, base.arch, base.curves, kind, p.round_to):
            return {}
        ratios = structured_allocation.allocate(method, target, kind, base.arch, base.curves, p.round_to)
        model, new_arch = smaller(base.model, base.arch, ratios, p.round_to, scores, recalibration)
        return {f"{method}_achieved": 1 - cost.total(new_arch, kind) / cost.total(base.arch, kind),
                method: evaluate(model, data["test"], batch)["accuracy"]}

    save_json(study.tradeoff(params.structured_tradeoff.targets, METHODS, score, "reduction"), args.plot_data)
    save_json({"methods": METHODS, "kind": kind,
               "xlabel": f"fraction of the baseline's {'MACs' if kind == 'macs' else 'parameters'} removed",
               "title": "Structured pruning: test accuracy against compression"}, args.figure_data)


if __name__ == "__main__":
    run(main)
