"""The numeric precision and memory format of training and evaluation, chosen once per stage from
params.yaml's `precision` (lib.runtime.setup) and applied by lib.train's loops:
- fp32: float32, contiguous (NCHW) memory;
- bf16: bfloat16 autocast (weights, optimizer and accumulations stay float32) with the batches in
  channels_last (NHWC) memory, which oneDNN's and cuDNN's bf16 convolutions prefer: a convolution with
  a channels_last input runs and returns channels_last. (On a CPU with AMX-BF16, channels_last alone,
  in fp32, is slightly slower: it is used only with bf16. The weights stay contiguous: converting them
  too gained 2-3 % more here, and torch.nn.utils.prune's masks view a weight as one flat run);
- auto: bf16 on CUDA and on CPUs whose instruction set has bf16 arithmetic (AMX-BF16 or AVX512-BF16,
  read from the CPU flags: torch.backends.cpu.get_cpu_capability() says only "AVX512" on an AMX CPU),
  fp32 elsewhere (Apple MPS included), where bf16 would be emulated and slower.
Until a stage chooses, the policy is bf16 on CUDA and fp32 elsewhere."""
import torch

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
_chosen = {}  # the stage's choice: {"precision", "memory_format"}, set by use()


VNNI_CPU_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")  # 8-bit dot products without saturation


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The instruction-set flags of this CPU (/proc/cpuinfo; none where there is no such file, e.g. off Linux)."""
    try:
        with open(cpuinfo) as f:
            return {word for line in f if line.startswith("flags") for word in line.split()}
    except OSError:
        return set()


def cpu_has_bf16(cpuinfo="/proc/cpuinfo"):
    """Whether this CPU computes in bf16 natively (a flag of BF16_CPU_FLAGS; False where the flags are
    unknown: fp32 is the safe choice)."""
    return any(flag in cpu_flags(cpuinfo) for flag in BF16_CPU_FLAGS)


def cpu_has_vnni(cpuinfo="/proc/cpuinfo"):
    """Whether this CPU has 8-bit dot-product instructions (a flag of VNNI_CPU_FLAGS)."""
    return any(flag in cpu_flags(cpuinfo) for flag in VNNI_CPU_FLAGS)


def choose(setting, device):
    """{"precision": "bf16" | "fp32", "memory_format": "channels_last" | "contiguous"} for `setting`
    (auto, fp32 or bf16) on `device`."""
    bf16 = setting == "bf16" or (setting == "auto" and (device.type == "cuda"
                                                        or (device.type == "cpu" and cpu_has_bf16())))
    return {"precision": "bf16", "memory_format": "channels_last"} if bf16 else \
        {"precision": "fp32", "memory_format": "contiguous"}


def use(choice):
    """Make `choice` (of choose) the precision of every loop that follows, in this process."""
    _chosen.clear()
    _chosen.update(choice)


def current(device):
    """The precision in use on `device`: the stage's choice, or bf16 on CUDA and fp32 elsewhere."""
    return dict(_chosen) or choose("fp32" if device.type != "cuda" else "bf16", device)


def autocast(device):
    """The autocast context of the precision in use."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=current(device)["precision"] == "bf16")


def memory_format(device):
    return torch.channels_last if current(device)["memory_format"] == "channels_last" else torch.contiguous_format


def batch(x, device):
    """A batch of images in the memory format in use."""
    return x.contiguous(memory_format=memory_format(device))
