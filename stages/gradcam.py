"""gradcam: where do the original and pruned models look? Grad-CAM of each model (from its checkpoint
alone) on test images -> reports/grad_cam_comparison.png, and attention agreement of each pruned
model with the original -> reports/eval/gradcam.json."""
import argparse

from lib import config, gradcam, models, runtime
from lib.data import load_split
from lib.errors import run
from lib.io import save_json

VARIANTS = {  # column title -> command-line option holding its checkpoint
    "original": "baseline",
    "unstructured": "unstructured",
    "structured + fine-tune": "structured_finetuned",
    "structured, no fine-tune": "structured",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="data")
    parser.add_argument("--baseline", default="models/vgg11_cifar10_finetuned.pth")
    parser.add_argument("--unstructured", default="models/unstructured_pruned_vgg11.pth")
    parser.add_argument("--structured", default="models/vgg11_cifar10_structured_pruned.pth")
    parser.add_argument("--structured-finetuned", default="models/vgg11_cifar10_structured_pruned_finetuned.pth")
    parser.add_argument("--figure", default="reports/grad_cam_comparison.png")
    parser.add_argument("--metrics", default="reports/eval/gradcam.json")
    args = parser.parse_args()
    params = config.load("seed", "device", "gradcam")
    p = params["gradcam"]
    device = runtime.setup(params["seed"], params["device"])
    test = load_split(f"{args.data}/test.pt")

    # The first images of pick_images are one per class: they make the figure; all are used for agreement.
    n = min(max(p["agreement_images"], p["num_images"]), len(test["labels"]))
    idx = gradcam.pick_images(test["labels"], n, params["seed"])
    images, labels = test["images"][idx], test["labels"][idx]
    targets = labels if p["target"] == "true" else None
    variants = VARIANTS if p["include_unfinetuned"] else {k: v for k, v in VARIANTS.items() if v != "structured"}
    loaded = {title: models.load_checkpoint(getattr(args, option), device)[0]  # all checked before any work
              for title, option in variants.items()}
    cams = {title: gradcam.compute_cams(model, p["target_layer"], images, targets, device)
            for title, model in loaded.items()}

    rows = min(p["num_images"], n)
    gradcam.comparison_figure(images[:rows], labels[:rows], test["classes"],
                              [(title, c[:rows], pred[:rows], conf[:rows]) for title, (c, pred, conf) in cams.items()],
                              args.figure)
    reference = cams["original"]
    metrics = {variants[title]: gradcam.agreement(reference[0], c, reference[1], pred, p["top_k"])
               for title, (c, pred, _) in cams.items() if title != "original"}
    metrics["images"] = n
    save_json(metrics, args.metrics)
    for name, m in metrics.items():
        if name != "images":
            print(f"{name:22s} CAM correlation {m['cam_correlation_mean']:.3f} ± {m['cam_correlation_std']:.3f}, "
                  f"top-{p['top_k']:.0%} IoU {m['topk_iou_mean']:.3f}, same prediction {m['prediction_agreement']:.3f}")


if __name__ == "__main__":
    run(main)
