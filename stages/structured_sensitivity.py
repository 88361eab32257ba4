"""structured_sensitivity: each conv layer of the baseline alone, its lowest-ranked filters removed at
each ratio (ranked by structured_prune's criterion: L1 norm, L2 norm, random, batch-norm scale or
Taylor), batch norm recalibrated as structured_prune does, accuracy on the validation split (and before
the recalibration) -> results (a DVC plot) and the data of the heatmap of the
accuracy drop and of one layer's filter norms and weight distribution before/after removal (stage figures)."""
import dataclasses
import functools

from lib import config, models, stage
from lib.batchnorm import Recalibration
from lib.config import setting
from lib.errors import param, run
from lib.io import save_json
from lib.pruning.sensitivity import sweep
from lib.pruning.sweep_results import accuracy_by_level, records_to_rows
from lib.pruning.structured import StructuredPrune, criterion_scores, filter_norms, filters_to_keep, mask_layer
from lib.train import Recipe


@dataclasses.dataclass(frozen=True)
class StructuredSensitivity:
    ratios: list = setting(config.levels)
    figure_layer: str = setting(config.layer_name)
    figure_ratio: float = setting(config.fraction)


PARAMS = {**stage.COMMON, "structured_sensitivity": StructuredSensitivity,
          "structured_prune": config.part(StructuredPrune, "criterion", "bn_recalibration_batches"),
          "finetune": config.part(Recipe, "batch_size")}  # of the batch-norm recalibration batches


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--results", "--plot-data", "--figure-data"], PARAMS, splits=("train", "val"))
    p, val = params.structured_sensitivity, data["val"]
    model, _ = models.load_checkpoint(args.model, device)
    layers = models.layer_names(model)
    # Every layer keeps a filter at the largest ratio, and in the figure: checked before any work.
    with param("structured_sensitivity.ratios"):
        filters_to_keep(model, {layer: max(p.ratios) for layer in layers})
    with param("structured_sensitivity.figure_ratio"):
        filters_to_keep(model, {p.figure_layer: p.figure_ratio})

    # Zeroing a filter (and its batch-norm scale and shift) is exactly removing it (tests/test_pruning.py
    # checks that against the physically smaller model), and needs no rebuild per level.
    criterion, batch_size = params.structured_prune.criterion, params.measure.batch_size
    scores = criterion_scores(model, criterion, params.seed, val, batch_size)
    recalibration = Recalibration(data["train"], params.structured_prune.bn_recalibration_batches,
                                  params.finetune.batch_size, params.seed)
    results = sweep(model, {layer: p.ratios for layer in layers}, functools.partial(mask_layer, scores=scores), val,
                    batch_size, recalibration)
    save_json(results, args.results)
    save_json(accuracy_by_level(results), args.plot_data)

    conv = models.layer(model, p.figure_layer)
    kept = filters_to_keep(model, {p.figure_layer: p.figure_ratio}, scores=scores)[p.figure_layer]
    save_json({"title": f"Structured filter pruning ({criterion}): validation accuracy drop (points) per layer and "
                        "fraction of filters removed",
               "filters": {"layer": p.figure_layer, "norms": filter_norms(conv).tolist(),
                           "removed": sorted(set(range(conv.out_channels)) - set(kept))}}, args.figure_data)
    print(f"baseline validation accuracy {results['baseline']['accuracy']:.2f}%")
    for r in records_to_rows(results):
        print(f"{r['layer']:6s} ratio {r['level']:.2f}: {r['accuracy']:6.2f}% (drop {r['drop']:.2f})")


if __name__ == "__main__":
    run(main)
