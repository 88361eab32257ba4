"""gradcam: where do the original and pruned models look, and are their explanations faithful? A class
activation map (gradcam.method at gradcam.target_layer, at that layer's resolution) of each model, its
controls included (from its checkpoint alone), on test images -> the comparison figure's data (stage
figures draws reports/grad_cam_comparison.png); per variant, the attention agreement with the original
(at the maps' resolution), the faithfulness of its own maps (ROAD and the CAM-masked confidence change)
and, for the pruned variants, of the original's maps scored on the pruned model -> reports/eval/gradcam.json."""
import dataclasses

import torch

from lib import config, gradcam, models, stage
from lib.config import setting
from lib.data import load_split
from lib.errors import run
from lib.io import save_json, save_torch
from lib.variants import VARIANTS

# The figure's columns: each trained pruned variant beside the original and its controls, the structured
# model before its fine-tune last.
COLUMNS = ("original", "unstructured", "unstructured_random", "structured_finetuned", "structured_random", "scratch",
           "dense_extra", "structured")
MAX_FIGURE_IMAGES = 32  # rows of the figure: about 200 pixels each at its resolution


@dataclasses.dataclass(frozen=True)
class Gradcam:
    num_images: int = setting(config.int_in(1, MAX_FIGURE_IMAGES, " (the figure shows one row per image)"))
    target_layer: str = setting(config.layer_name)
    method: str = setting(config.choice(*gradcam.METHODS))
    target: str = setting(config.choice("predicted", "true"))
    include_unfinetuned: bool = setting(config.boolean)
    agreement_images: int = setting(config.positive_int)
    faithfulness_images: int = setting(config.positive_int)
    road_percentiles: list = setting(config.percentiles)
    top_k: float = setting(config.fraction_up_to_one)


PARAMS = {**stage.COMMON, "gradcam": Gradcam}  # measure: its batch size


def main():
    args, params, device, _ = stage.start(
        __doc__, ["--data", *(f"--{v.replace('_', '-')}" for v in COLUMNS), "--figure-data", "--metrics"], PARAMS,
        splits=())
    p, test = params.gradcam, load_split(f"{args.data}/test.pt")  # on the CPU: images move in batches

    # The first images of pick_images are one per class: they make the figure; the agreement and
    # faithfulness metrics use the first agreement_images and faithfulness_images of them.
    n = min(max(p.agreement_images, p.num_images, p.faithfulness_images), len(test["labels"]))
    idx = gradcam.pick_images(test["labels"], n, params.seed)
    picked = {"images": test["images"][idx], "labels": test["labels"][idx]}
    shown = [v for v in COLUMNS if p.include_unfinetuned or v != "structured"]
    loaded = {v: models.load_checkpoint(getattr(args, v), device)[0] for v in shown}  # all checked before any work
    batch_size = params.measure.batch_size
    cams = {v: gradcam.compute_cams(model, p.target_layer, picked["images"],
                                    picked["labels"] if p.target == "true" else None, batch_size, p.method)
            for v, model in loaded.items()}

    rows = min(p.num_images, n)
    save_torch({"images": picked["images"][:rows], "labels": picked["labels"][:rows], "classes": test["classes"],
                "method": p.method, "layer": p.target_layer,
                "columns": [{"title": VARIANTS[v]["title"], "cams": c[:rows], "predictions": pred[:rows],
                             "confidences": conf[:rows]} for v, (c, pred, conf) in cams.items()]},
               args.figure_data)
    metrics = scores(loaded, cams, picked, p, params.seed, batch_size)
    save_json(metrics, args.metrics)
    for v in cams:
        s = metrics[v]
        print(f"{v:22s} ROAD combined {s['road_combined_mean']:+.4f} ± {s['road_combined_std']:.4f}, "
              f"CAM-kept confidence change {s['cam_keep_change_mean']:+.4f}" + (
                  f", CAM correlation {s['cam_correlation_mean']:.3f}, same prediction {s['prediction_agreement']:.3f}"
                  if v != "original" else ""))


def scores(loaded, cams, picked, p, seed, batch_size):
    """Per variant: the faithfulness of its own CAMs (ROAD, the CAM-kept confidence change) on the first
    faithfulness_images of `picked` ({"images", "labels"}), its attention agreement with the original on the
    first agreement_images, and for a pruned variant the faithfulness of the original's CAMs scored on it."""
    images, labels = picked["images"], picked["labels"]
    agreeing, faithful = min(p.agreement_images, len(labels)), min(p.faithfulness_images, len(labels))
    ref_cams, ref_preds, _ = cams["original"]
    size = gradcam.map_size(p.target_layer, images.shape[-1])
    metrics = {"method": p.method, "layer": p.target_layer, "map_size": [size, size], "images": agreeing,
               "faithfulness_images": faithful, "road_percentiles": p.road_percentiles}

    def faithfulness(model, maps, preds):  # each model's CAMs explain its predicted (or the true) class
        torch.manual_seed(seed)  # the same imputation noise for every variant
        explained = (preds if p.target == "predicted" else labels)[:faithful]
        return gradcam.summarize(gradcam.faithfulness(model, images[:faithful], maps[:faithful], explained,
                                                      p.road_percentiles, batch_size))

    for v, (maps, preds, _) in cams.items():
        metrics[v] = faithfulness(loaded[v], maps, preds)
        if v != "original":
            metrics[v].update(gradcam.agreement(ref_cams[:agreeing], maps[:agreeing], ref_preds[:agreeing],
                                                preds[:agreeing], p.top_k))
        if VARIANTS[v]["pruned"]:  # the original's explanation, scored on the pruned model
            cross = faithfulness(loaded[v], ref_cams, ref_preds)
            metrics[v].update({f"original_cams_{key}": value for key, value in cross.items()})
    return metrics


if __name__ == "__main__":
    run(main)
