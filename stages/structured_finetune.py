"""structured_finetune: fine-tune the physically smaller model to recover accuracy ->
models/vgg11_cifar10_structured_pruned_finetuned.pth and its training curves."""
from lib import models, stage
from lib.errors import run
from lib.train import Recipe, fit

PARAMS = {**stage.COMMON, "structured_finetune": Recipe}


def main():
    args, params, device, data = stage.start(__doc__, ["--data", "--model", "--out", "--live"], PARAMS,
                                             splits=("train", "val"))
    model, ckpt = models.load_checkpoint(args.model, device)
    history = fit(model, data, params.structured_finetune, params.seed, params.measure.batch_size, args.live)
    models.save_checkpoint(args.out, model, ckpt["architecture"], classes=ckpt.get("classes"))
    print(f"validation accuracy {history[-1]['val_accuracy']:.2f}% -> {args.out}")


if __name__ == "__main__":
    run(main)
