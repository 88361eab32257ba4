"""What a VGG-11 costs, from its architecture dict alone: weights, parameters and multiply-accumulates
(MACs) of each conv and linear layer for one image. Exact (tests check them against
torch.utils.flop_counter and the built model's parameters), and fast enough to score thousands of
candidate filter counts while allocating a pruning target."""
from lib.models import ARCHS, POOL_AFTER


def layer_costs(arch, image_size=32):
    """{layer: {"weights", "params", "macs"}} for conv1..conv8 and fc1.. (a conv's bias and batch-norm
    scale and shift are among its params; pooling and batch norm cost no MACs)."""
    out, channels, size = {}, 3, image_size
    for i, filters in enumerate(arch["filters"]):
        weights = 9 * channels * filters
        norm = 2 * filters if ARCHS[arch["arch"]] else 0
        out[f"conv{i + 1}"] = {"weights": weights, "params": weights + filters + norm, "macs": weights * size * size}
        channels, size = filters, size // 2 if i in POOL_AFTER else size
    # the cifar head sees the pooled channels; the imagenet head each channel as a 7x7 block
    dims = [channels, arch["num_classes"]] if arch["head"] == "cifar" else [channels * 49, 4096, 4096,
                                                                           arch["num_classes"]]
    for k, (n_in, n_out) in enumerate(zip(dims, dims[1:])):
        out[f"fc{k + 1}"] = {"weights": n_in * n_out, "params": n_in * n_out + n_out, "macs": n_in * n_out}
    return out


def total(arch, key="macs"):
    return sum(layer[key] for layer in layer_costs(arch).values())


def effective_macs(arch, densities):
    """MACs on nonzero weights only: each layer's MACs times the fraction of its weights that is
    nonzero (`densities`: {layer: fraction}; unlisted layers are dense). What sparse kernels could
    save; dense kernels still do all of total(arch)."""
    return sum(c["macs"] * densities.get(name, 1.0) for name, c in layer_costs(arch).items())
