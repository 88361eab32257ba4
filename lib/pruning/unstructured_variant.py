"""An unstructured variant made from its per-layer levels: pruned one-shot and fine-tuned with its masks
fixed, or pruned gradually during that fine-tune; then saved dense and sparse with its sparsity and
effective MACs. What unstructured_prune and its random-pruning control (unstructured_random) share."""
import copy
import os

import torch

from lib import cost, models
from lib.io import save_torch
from lib.measure import save_variant
from lib.pruning import gradual
from lib.pruning.unstructured import apply_unstructured, make_permanent, sparsity, to_sparse
from lib.train import fit


def recovered(baseline, levels, fixed, p, hp, data, device, seed, eval_batch_size, global_target=None):
    """A pruned copy of `baseline` after its masked fine-tune on recipe `hp`: the conv `levels` and the
    `fixed` ones (the Linear layers') by unstructured_prune's `p` criterion and schedule. one-shot:
    pruned, then fine-tuned with the masks fixed; gradual: from the dense baseline, the masks growing
    during the fine-tune (one magnitude threshold over the convs at each step with `global_target`,
    else each layer on its own ramp; the random criterion ranks by scores drawn once, so its masks
    grow like magnitude's do). Random draws come from a generator seeded with `seed`."""
    generator = torch.Generator().manual_seed(seed)
    model = copy.deepcopy(baseline)

    def finetune(m):
        fit(m, data["train"], data["val"], hp, device, seed, eval_batch_size)

    if p["schedule"] == "gradual":
        scores = None if p["criterion"] == "magnitude" else {
            n: torch.rand(models.layer(model, n).weight.shape, generator=generator).to(device)
            for n in {**fixed, **levels}}
        steps = hp["epochs"] * (len(data["train"]["labels"]) // hp["batch_size"])
        gradual.prune_gradually(model, levels, fixed, p, steps, global_target if scores is None else None, finetune,
                                scores)
    else:
        apply_unstructured(model, {**fixed, **levels}, p["criterion"], generator)
        if hp["epochs"]:
            finetune(model)
    return make_permanent(model)


def save(model, ckpt, baseline_metrics, args, data, device, cfg, **extra):
    """The pruned model saved dense (args.out) and sparse (args.sparse_out), measured with its sparsity
    per layer and overall and its effective MACs (a zeroed weight does no useful work), plus `extra`,
    -> args.metrics; returns the metrics."""
    arch = ckpt["architecture"]
    save_torch({"architecture": arch, "sparse_state_dict": to_sparse(model.state_dict())}, args.sparse_out)
    achieved = sparsity(model)
    effective = cost.effective_macs(arch, {n: 1 - s for n, s in achieved["layers"].items()})
    return save_variant(model, arch, args.out, args.metrics, data, device, cfg, baseline_metrics,
                        ckpt.get("classes"), sparse_size_bytes=os.path.getsize(args.sparse_out), **extra,
                        conv_sparsity=achieved["conv_overall"], effective_macs=effective,
                        effective_macs_reduction=1 - effective / baseline_metrics["macs"],
                        layer_sparsity=achieved["layers"])
