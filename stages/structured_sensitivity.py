"""structured_sensitivity: each conv layer of the baseline alone, its lowest-ranked filters removed at
each ratio (ranked by structured_prune's criterion: L1 norm, L2 norm, random, batch-norm scale or
Taylor), accuracy on the validation split -> results (a DVC plot), a heatmap of the accuracy drop, and
one layer's filter norms and weight distribution before/after removal."""
from lib import config, models, plots, stage
from lib.errors import param, run
from lib.io import save_json
from lib.pruning.sensitivity import sweep
from lib.pruning.structured import CRITERIA, criterion_scores, filter_norms, filters_to_keep, mask_filters

PARAMS = {
    "structured_sensitivity": {
        "ratios": config.levels,
        "figure_layer": config.layer_name,
        "figure_ratio": config.fraction,
    },
    "structured_prune": config.Keys(criterion=config.choice(*CRITERIA)),
    "measure": config.MEASURE,
}


def main():
    args, params, device, data = stage.start(
        __doc__, ["--data", "--model", "--results", "--plot-data", "--heatmap", "--figure"], PARAMS,
        splits=("val",))
    p, val = params["structured_sensitivity"], data["val"]
    model, _ = models.load_checkpoint(args.model, device)
    layers = models.layer_names(model)
    # Every layer keeps a filter at the largest ratio, and in the figure: checked before any work.
    with param("structured_sensitivity.ratios"):
        filters_to_keep(model, {layer: max(p["ratios"]) for layer in layers})
    with param("structured_sensitivity.figure_ratio"):
        filters_to_keep(model, {p["figure_layer"]: p["figure_ratio"]})

    # Zeroing a filter (and its batch-norm scale and shift) is exactly removing it (tests/test_pruning.py
    # checks that against the physically smaller model), and needs no rebuild per level.
    criterion, batch_size = params["structured_prune"]["criterion"], params["measure"]["batch_size"]
    scores = criterion_scores(model, criterion, params["seed"], val, batch_size, device)
    results = sweep(model, layers, p["ratios"], lambda m, layer, r: mask_filters(m, {layer: r}, scores),
                    val["images"], val["labels"], batch_size, device)
    save_json(results, args.results)
    save_json(plots.accuracy_by_level(results), args.plot_data)
    plots.sensitivity_heatmap(results, args.heatmap, title=f"Structured filter pruning ({criterion}): validation "
                              "accuracy drop (points) per layer and fraction of filters removed")

    layer, ratio = p["figure_layer"], p["figure_ratio"]
    conv = models.layer(model, layer)
    kept = filters_to_keep(model, {layer: ratio}, scores=scores)[layer]
    removed = sorted(set(range(conv.out_channels)) - set(kept))
    plots.filter_norms_figure(filter_norms(conv), removed, conv.weight, conv.weight[kept], args.figure, layer)

    print(f"baseline validation accuracy {results['baseline']['accuracy']:.2f}%")
    for r in plots.records_to_rows(results):
        print(f"{r['layer']:6s} ratio {r['level']:.2f}: {r['accuracy']:6.2f}% (drop {r['drop']:.2f})")


if __name__ == "__main__":
    run(main)
