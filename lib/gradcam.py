"""Class activation maps (pytorch-grad-cam: Grad-CAM, Grad-CAM++, LayerCAM) for any VGG-11 variant, the
agreement of two models' maps, their faithfulness (ROAD and the CAM-masked confidence change,
pytorch-grad-cam's metrics) (the side-by-side comparison figure: lib.plots).

A CAM layer is named like a conv layer: "convK" is the ReLU right after convK (after its batch norm
for vgg11_bn), so the same name works for the original and for a physically smaller pruned model. A map
has its layer's own resolution (map_size: on 32x32 inputs 32x32 for conv1, 16x16 for conv2, 8x8 for
conv3 and conv4, 4x4 for conv5 and conv6, 2x2 for conv7 and conv8); faithfulness scores it upsampled to
the image (bilinearly, as pytorch-grad-cam does), agreement compares maps at their own resolution.
"""
import contextlib

import numpy as np
import torch
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, LayerCAM
from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange
from pytorch_grad_cam.metrics.road import ROADLeastRelevantFirstAverage, ROADMostRelevantFirstAverage
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget
from torch import nn

from lib.data import normalize
from lib.errors import UserError
from lib.models import POOL_AFTER, convs

METHODS = {"gradcam": GradCAM, "gradcampp": GradCAMPlusPlus, "layercam": LayerCAM}


def map_size(layer_name, image_size=32):
    """The side of a CAM at conv layer `layer_name` ("convK", after K - 1 convolutions and the pools among them)."""
    k = int(layer_name.removeprefix("conv")) - 1
    return image_size // 2 ** sum(1 for i in POOL_AFTER if i < k)


def to_image(cams, size):
    """Maps [N, h, w] upsampled bilinearly to [N, size, size], each min-max scaled to [0, 1] again: what
    pytorch-grad-cam returns at the image's size, and what faithfulness scores."""
    up = nn.functional.interpolate(cams[:, None].float(), size=(size, size), mode="bilinear",
                                   align_corners=False)[:, 0]
    low = up.flatten(1).min(1).values[:, None, None]
    return (up - low) / (1e-7 + (up - low).flatten(1).max(1).values[:, None, None])


def target_module(model, name):
    """The ReLU that follows conv `name` in model.features."""
    found = {n: i for n, i, _ in convs(model)}
    if name not in found:
        raise UserError(f"unknown Grad-CAM layer '{name}'; valid names: {', '.join(found)} "
                        "(each means the ReLU right after that convolution)")
    return next(m for m in list(model.features)[found[name]:] if isinstance(m, nn.ReLU))


@contextlib.contextmanager
def _relus_not_inplace(model):
    """torchvision's VGG ReLUs are inplace=True, so a hooked activation may share memory with a tensor
    that is overwritten later; run with inplace=False (same numbers, a little more memory) and restore
    the flags afterwards."""
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU) and m.inplace]
    for m in relus:
        m.inplace = False
    try:
        yield
    finally:
        for m in relus:
            m.inplace = True


def compute_cams(model, layer_name, images_uint8, targets, batch_size=100, method="gradcam"):
    """(cams float [N, s, s] in [0, 1] at the layer's own resolution s (map_size), predictions int64 [N],
    confidences float [N]) on the CPU, by `method` (a key of METHODS).

    `targets`: class indices to explain, or None for each image's own prediction. The confidence is
    the softmax probability of the prediction. The model (on its device, where the images go in batches)
    is left in eval mode with its grads cleared.
    """
    device = next(model.parameters()).device
    num_classes = model.classifier[-1].out_features
    if targets is not None:
        targets = torch.as_tensor(targets).flatten().tolist()
        if len(targets) != len(images_uint8) or not all(0 <= t < num_classes for t in targets):
            raise UserError(f"Grad-CAM targets must be {len(images_uint8)} class indices in 0..{num_classes - 1}")
    cams, preds, confs = [], [], []
    size = map_size(layer_name, images_uint8.shape[-1])
    layers = [target_module(model, layer_name)]
    with _relus_not_inplace(model), METHODS[method](model=model, target_layers=layers) as cam:
        cam.get_target_width_height = lambda _: (size, size)  # each map min-max scaled at its own resolution
        for start in range(0, len(images_uint8), batch_size):
            x = normalize(images_uint8[start:start + batch_size].to(device))
            chosen = None if targets is None else [ClassifierOutputTarget(t)
                                                   for t in targets[start:start + batch_size]]
            cams.append(torch.from_numpy(cam(input_tensor=x, targets=chosen)))
            conf, pred = cam.outputs.detach().softmax(1).max(1)
            preds.append(pred.cpu())
            confs.append(conf.cpu())
    model.zero_grad(set_to_none=True)
    return torch.cat(cams), torch.cat(preds), torch.cat(confs)


def _pearson(a, b):
    """Per-row Pearson correlation in float64; a constant row gives 1 against an identical row, else 0."""
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    num, den = (a * b).sum(1), ((a * a).sum(1) * (b * b).sum(1)).sqrt()
    constant = torch.where((a == b).all(1), 1.0, 0.0).to(a.dtype)
    return torch.where(den > 0, num / den.clamp_min(1e-300), constant).clamp(-1, 1)


def _topk_iou(a, b, top_k):
    """Per-row IoU of the top `top_k` fraction of entries of a and of b."""
    k = max(1, round(top_k * a.shape[1]))
    in_a = torch.zeros_like(a, dtype=torch.bool).scatter_(1, a.topk(k, 1).indices, True)
    in_b = torch.zeros_like(b, dtype=torch.bool).scatter_(1, b.topk(k, 1).indices, True)
    return (in_a & in_b).sum(1).double() / (in_a | in_b).sum(1).double()


def agreement(cams_a, cams_b, preds_a, preds_b, top_k=0.2):
    """Attention agreement of two models over the same images: per-image CAM correlation and top-k
    IoU (mean and population std), and the fraction of equal predictions."""
    if not 0 < top_k <= 1:
        raise UserError(f"top_k = {top_k} must be a fraction of the pixels in (0, 1]")
    a, b = cams_a.flatten(1).double(), cams_b.flatten(1).double()
    corr, iou = _pearson(a, b), _topk_iou(a, b, top_k)
    return {"cam_correlation_mean": corr.mean().item(), "cam_correlation_std": corr.std(correction=0).item(),
            "topk_iou_mean": iou.mean().item(), "topk_iou_std": iou.std(correction=0).item(),
            "prediction_agreement": (preds_a == preds_b).double().mean().item()}


def faithfulness(model, images_uint8, cams, classes, percentiles, batch_size=100):
    """Is a model's explanation faithful to what it computes? Per image, changes in the softmax
    probability of `classes` (the explained classes) when pixels are replaced by ROAD's noisy linear
    imputation (Rong et al. 2022): `road_morf` removing the most relevant pixels first (more negative:
    more faithful), `road_lerf` the least relevant first (closer to 0: more faithful), each averaged
    over `percentiles`, `road_combined` = (lerf - morf) / 2 (higher: more faithful); and
    `cam_keep_change`, when the image is multiplied by its CAM (keeping only the CAM region). `cams` at any
    resolution are scored upsampled to the images' (to_image).
    Returns {name: float tensor [N]}; the imputation's noise comes from torch's global RNG (seeded). The
    model stays on its device, where the images go in batches."""
    model.eval()
    device = next(model.parameters()).device
    cams = to_image(cams, images_uint8.shape[-1])
    metrics = {"road_morf": ROADMostRelevantFirstAverage(percentiles),
               "road_lerf": ROADLeastRelevantFirstAverage(percentiles),
               "cam_keep_change": CamMultImageConfidenceChange()}
    out = {name: [] for name in metrics}
    for start in range(0, len(images_uint8), batch_size):
        x = normalize(images_uint8[start:start + batch_size].to(device))
        targets = [ClassifierOutputSoftmaxTarget(int(c)) for c in classes[start:start + batch_size]]
        batch_cams = cams[start:start + batch_size].numpy()
        for name, metric in metrics.items():
            out[name].append(torch.from_numpy(np.asarray(metric(x, batch_cams, targets, model), dtype=np.float32)))
    out = {name: torch.cat(values).flatten() for name, values in out.items()}
    out["road_combined"] = (out["road_lerf"] - out["road_morf"]) / 2
    return out


def summarize(scores):
    """{name_mean, name_std} (population std) of per-image scores {name: tensor}."""
    out = {}
    for name, values in scores.items():
        values = values.double()
        out[f"{name}_mean"], out[f"{name}_std"] = values.mean().item(), values.std(correction=0).item()
    return out


def pick_images(labels, n, seed):
    """Indices of `n` images: a seeded shuffle within each class, then round robin over the classes
    (one per class first, in class order)."""
    labels = torch.as_tensor(labels).cpu()
    if not 0 < n <= len(labels):
        raise UserError(f"cannot pick {n} images from {len(labels)}")
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    per_class = [order[labels[order] == c] for c in labels.unique()]
    rounds = max(len(ix) for ix in per_class)
    picked = [ix[r] for r in range(rounds) for ix in per_class if r < len(ix)]
    return torch.stack(picked[:n])
