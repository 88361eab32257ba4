"""finetune: VGG-11 with a 10-class head trained on the training split (optionally from ImageNet
weights) -> models/vgg11_cifar10_finetuned.pth and its training curves (measured by stage evaluate)."""
import dataclasses

from lib import config, models, stage
from lib.config import setting
from lib.errors import Diverged, param, run
from lib.train import Recipe, fit


@dataclasses.dataclass(frozen=True)
class Model:
    arch: str = setting(config.choice("vgg11", "vgg11_bn"))
    head: str = setting(config.choice("cifar", "imagenet"))
    width: float = setting(config.fraction_up_to_one)


@dataclasses.dataclass(frozen=True)
class Finetune(Recipe):  # the baseline's recipe (other stages read its keys), and where its features start
    pretrained: bool = setting(config.boolean)


PARAMS = {**stage.COMMON, "model": Model, "finetune": Finetune}


def main():
    args, params, device, data = stage.start(__doc__, ["--data", "--out", "--live"], PARAMS, splits=("train", "val"))
    m, classes = params.model, data["train"]["classes"]
    arch = models.architecture(m.arch, m.head, len(classes), models.scaled_filters(m.width))
    model = models.build(arch)
    if params.finetune.pretrained:
        with param("finetune.pretrained"):
            models.load_imagenet_weights(model, arch)
    model.to(device)
    with param("finetune.lr", Diverged):
        history = fit(model, data, params.finetune, params.seed, params.measure.batch_size, args.live)
    models.save_checkpoint(args.out, model, arch, classes=classes)
    print(f"validation accuracy {history[-1]['val_accuracy']:.2f}%  ->  {args.out}")


if __name__ == "__main__":
    run(main)
