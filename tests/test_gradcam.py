import matplotlib.colors
import pytest
import torch
from pytorch_grad_cam import GradCAM
from torch import nn

from lib import gradcam, models, plots
from lib.data import normalize
from lib.errors import UserError

SMALL = [8, 16, 16, 16, 32, 32, 32, 32]
CLASSES = [f"class{i}" for i in range(10)]


def small_model(arch="vgg11_bn", head="cifar", seed=0):
    torch.manual_seed(seed)
    return models.build(models.architecture(arch, head, filters=SMALL)).eval()


def images(n=12, seed=0):
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def blank(cams):
    return cams.flatten(1).std(1) == 0


@pytest.mark.parametrize("arch,head", [("vgg11", "cifar"), ("vgg11_bn", "cifar"), ("vgg11_bn", "imagenet")])
@pytest.mark.parametrize("layer", ["conv4", "conv6", "conv8"])
@pytest.mark.parametrize("method", sorted(gradcam.METHODS))
def test_cams_at_the_layers_resolution_are_not_blank(arch, head, layer, method):
    model = small_model(arch, head)
    cams, preds, confs = gradcam.compute_cams(model, layer, images(), None, method=method)
    size = gradcam.map_size(layer)
    assert cams.shape == (12, size, size) and preds.shape == confs.shape == (12,)
    assert cams.min() >= 0 and cams.max() <= 1
    assert not blank(cams).any()
    assert ((confs > 0) & (confs <= 1)).all()


def test_map_sizes_are_the_relu_outputs_and_the_last_pool_is_1x1_and_blank():
    model, shapes = small_model(), {}
    last_pool = [m for m in model.features if isinstance(m, nn.MaxPool2d)][-1]
    modules = {name: gradcam.target_module(model, name) for name in models.layer_names(model)}
    for name, module in [*modules.items(), ("pool", last_pool)]:
        module.register_forward_hook(lambda m, i, out, name=name: shapes.update({name: tuple(out.shape[-2:])}))
    model(torch.zeros(1, 3, 32, 32))
    assert shapes == {**{name: (gradcam.map_size(name),) * 2 for name in modules}, "pool": (1, 1)}
    assert [gradcam.map_size(name) for name in modules] == [32, 16, 8, 8, 4, 4, 2, 2]
    with GradCAM(model=model, target_layers=[last_pool]) as cam:  # why no CAM is read off the last pool
        assert blank(torch.from_numpy(cam(input_tensor=images().float() / 255, targets=None))).all()


def test_native_maps_upsampled_are_pytorch_grad_cams_image_sized_maps():
    """to_image of a map at its layer's resolution is what pytorch-grad-cam itself returns at the image's
    size (its min-max scaling, then OpenCV's bilinear resize): the maps faithfulness scores are the library's."""
    model, x = small_model(), images(5)
    native, _, _ = gradcam.compute_cams(model, "conv4", x, None)
    with GradCAM(model=model, target_layers=[gradcam.target_module(model, "conv4")]) as cam:
        full = torch.from_numpy(cam(input_tensor=normalize(x), targets=None))
    torch.testing.assert_close(gradcam.to_image(native, 32), full, atol=1e-5, rtol=0)


def test_target_module_is_the_relu_after_bn_or_conv():
    model = small_model("vgg11_bn")
    relu = gradcam.target_module(model, "conv8")
    i = [k for k, m in enumerate(model.features) if m is relu][0]
    assert isinstance(relu, nn.ReLU) and isinstance(model.features[i - 1], nn.BatchNorm2d)
    model = small_model("vgg11")
    relu = gradcam.target_module(model, "conv3")
    i = [k for k, m in enumerate(model.features) if m is relu][0]
    assert isinstance(relu, nn.ReLU) and model.features[i - 1] is models.layer(model, "conv3")


def test_unknown_layer_is_a_clear_error():
    with pytest.raises(UserError, match=r"unknown Grad-CAM layer 'pool5'.*conv1, conv2.*conv8"):
        gradcam.target_module(small_model(), "pool5")


def test_model_is_unchanged_by_compute_cams():
    model, x = small_model(), images(4)
    before = model(normalize(x)).detach()
    gradcam.compute_cams(model, "conv8", x, None)
    assert torch.equal(model(normalize(x)).detach(), before)
    assert all(m.inplace for m in model.modules() if isinstance(m, nn.ReLU))
    assert all(p.grad is None for p in model.parameters())


def test_targets_true_class_and_validation():
    model, x = small_model(), images(6)
    cams, preds, _ = gradcam.compute_cams(model, "conv8", x, None, batch_size=4)
    same, _, _ = gradcam.compute_cams(model, "conv8", x, preds.tolist())
    assert torch.allclose(cams, same, atol=1e-6)
    with pytest.raises(UserError, match="class indices in 0..9"):
        gradcam.compute_cams(model, "conv8", x, [10] * 6)


def test_agreement_of_a_model_with_itself_is_perfect():
    cams, preds, _ = gradcam.compute_cams(small_model(), "conv8", images(), None)
    cams = torch.cat([cams, torch.zeros(1, 2, 2)])  # a blank map must not give NaN
    preds = torch.cat([preds, torch.tensor([3])])
    result = gradcam.agreement(cams, cams.clone(), preds, preds.clone(), top_k=0.1)
    assert result == {"cam_correlation_mean": 1.0, "cam_correlation_std": 0.0,
                      "topk_iou_mean": 1.0, "topk_iou_std": 0.0, "prediction_agreement": 1.0}


def test_agreement_of_different_maps():
    a = torch.zeros(2, 4, 4)
    a[:, 0, :2] = 1  # top-left pair of pixels
    b = a.clone()
    b[0] = a[0].flip(1)  # image 0: the pair moves to the top-right; image 1: the same map
    b[1] = torch.zeros(4, 4)  # ... except blank: correlation 0, not NaN
    result = gradcam.agreement(a, b, torch.tensor([1, 2]), torch.tensor([1, 3]), top_k=2 / 16)
    assert result["cam_correlation_mean"] == pytest.approx((-1 / 7 + 0) / 2)
    assert result["prediction_agreement"] == 0.5
    assert 0 <= result["topk_iou_mean"] <= 1
    with pytest.raises(UserError, match="top_k"):
        gradcam.agreement(a, b, torch.tensor([1, 2]), torch.tensor([1, 3]), top_k=20)


def test_pick_images_one_per_class_first_and_deterministic():
    labels = torch.arange(10).repeat(30)[torch.randperm(300, generator=torch.Generator().manual_seed(1))]
    first = gradcam.pick_images(labels, 10, seed=0)
    assert labels[first].tolist() == list(range(10))
    assert torch.equal(first, gradcam.pick_images(labels, 10, seed=0))
    assert not torch.equal(first, gradcam.pick_images(labels, 10, seed=1))
    more = gradcam.pick_images(labels, 25, seed=0)
    assert torch.equal(more[:10], first) and len(set(more.tolist())) == 25
    assert torch.bincount(labels[more], minlength=10).tolist() == [3] * 5 + [2] * 5
    with pytest.raises(UserError):
        gradcam.pick_images(labels, 301, seed=0)


def test_figure_grid_and_title_colours(tmp_path):
    n, labels = 5, torch.tensor([0, 1, 2, 3, 4])
    cams = torch.rand(n, 4, 4)
    columns = [("original", cams, torch.tensor([0, 1, 2, 3, 4]), torch.full((n,), 0.9)),
               ("unstructured", cams, torch.tensor([0, 9, 2, 9, 4]), torch.full((n,), 0.5)),
               ("structured", cams, torch.tensor([9, 9, 9, 9, 9]), torch.full((n,), 0.25))]
    path = tmp_path / "grad_cam_comparison.png"
    data = {"images": images(n), "labels": labels, "classes": CLASSES, "method": "gradcam", "layer": "conv6",
            "columns": [{"title": t, "cams": c, "predictions": p, "confidences": f} for t, c, p, f in columns]}
    fig = plots.grad_cam_figure(data, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == n * 4 + 1  # rows = images, columns = the image + one per model; the colour bar
    assert "4x4 maps on 32x32 images" in fig.get_suptitle()
    grid = [fig.axes[r * 4:(r + 1) * 4] for r in range(n)]
    green, red = (matplotlib.colors.to_hex(c) for c in (plots.CORRECT, plots.WRONG))
    for r in range(n):
        assert grid[r][0].get_title() == f"image\ntrue: {CLASSES[r]}"
        shown = grid[r][0].images[0]
        assert shown.get_array().shape == (32, 32, 3) and shown.get_interpolation() == "nearest"  # pixel for pixel
        for c, (title, maps, preds, confs) in enumerate(columns, start=1):
            overlay = grid[r][c].images[1]
            assert overlay.get_interpolation() == "nearest" and torch.equal(torch.as_tensor(overlay.get_array()),
                                                                             maps[r])
            pred = int(preds[r])
            assert grid[r][c].get_title() == f"{title}\n{CLASSES[pred]} ({100 * float(confs[r]):.0f}%)"
            colour = matplotlib.colors.to_hex(grid[r][c].title.get_color())
            assert colour == (green if pred == r else red)


@pytest.mark.filterwarnings("ignore:__array_wrap__ must accept context:DeprecationWarning")  # grad-cam 1.5.7 + NumPy 2
def test_faithfulness_matches_pytorch_grad_cam_road_combined():
    """road_combined against pytorch-grad-cam's own ROADCombined on the same model, images and CAMs (at the
    images' resolution; the imputation noise differs: both draw it, in another order); cam_keep_change against a hand
    computation of the softmax probability change when the normalised image is multiplied by its CAM."""
    from pytorch_grad_cam.metrics.road import ROADCombined
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
    model, x = small_model(), images(6)
    cams, preds, _ = gradcam.compute_cams(model, "conv6", x, None)
    scores = gradcam.faithfulness(model, x, cams, preds, [30, 70], batch_size=4)
    cams = gradcam.to_image(cams, 32)  # what is scored: the 4x4 maps upsampled to the images
    assert set(scores) == {"road_morf", "road_lerf", "road_combined", "cam_keep_change"}
    assert all(v.shape == (6,) for v in scores.values())
    targets = [ClassifierOutputSoftmaxTarget(int(c)) for c in preds]
    expected = ROADCombined(percentiles=[30, 70])(normalize(x), cams.numpy(), targets, model)
    assert torch.allclose(scores["road_combined"], torch.as_tensor(expected, dtype=torch.float32), atol=2e-3)
    with torch.no_grad():
        before = model(normalize(x)).softmax(1)[torch.arange(6), preds]
        after = model(normalize(x) * cams[:, None]).softmax(1)[torch.arange(6), preds]
    assert torch.allclose(scores["cam_keep_change"], after - before, atol=1e-6)
    summary = gradcam.summarize(scores)
    assert summary["road_morf_mean"] == pytest.approx(scores["road_morf"].double().mean().item())
    assert summary["road_morf_std"] == pytest.approx(scores["road_morf"].double().std(correction=0).item())
