"""finetune: VGG-11 with a 10-class head trained on the training split (optionally from ImageNet
weights) -> models/vgg11_cifar10_finetuned.pth and reports/eval/finetune.json."""
from lib import config, models, stage
from lib.errors import param, run
from lib.measure import save_variant
from lib.train import fit

PARAMS = {
    "model": {
        "arch": config.choice("vgg11", "vgg11_bn"),
        "head": config.choice("cifar", "imagenet"),
        "width": config.fraction_up_to_one,
    },
    "finetune": config.FINETUNE,
    "measure": config.MEASURE,
}


def main():
    args, params, device, data = stage.start(__doc__, ["--data", "--out", "--metrics", "--live"], PARAMS)
    m = params["model"]
    arch = models.architecture(m["arch"], m["head"], len(data["train"]["classes"]), models.scaled_filters(m["width"]))
    model = models.build(arch)
    if params["finetune"]["pretrained"]:
        with param("finetune.pretrained"):
            models.load_imagenet_weights(model, arch)
    model.to(device)
    fit(model, data["train"], data["val"], params["finetune"], device, params["seed"], params["measure"]["batch_size"],
        args.live)

    metrics = save_variant(model, arch, args.out, args.metrics, data, device, params["measure"],
                           classes=data["train"]["classes"])
    print(f"test accuracy {metrics['test_accuracy']:.2f}%  ->  {args.out}")


if __name__ == "__main__":
    run(main)
