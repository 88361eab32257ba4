"""timing: CPU latency and throughput of every model variant, apart from training. All variants are
timed in this one process, interleaved round-robin after a warm-up, each speedup against the
baseline timed alongside it, with the spread (IQR) beside every median -> reports/timing.json. With
timing.fold_batchnorm, every model (the baseline too) is timed in its deployment form, each batch norm
folded into its conv.
A change to the `timing` params re-runs only this stage and what reads it."""
import argparse

from lib import config, models
from lib.errors import UserError, run
from lib.io import save_json
from lib.timing import deployed, time_interleaved

PARAMS = {
    "timing": {
        "latency_runs": config.int_in(4, 100_000, " (quartiles need 4 rounds)"),
        "warmup": config.non_negative_int,
        "throughput_batch": config.positive_int,
        "throughput_runs": config.positive_int,
        "fold_batchnorm": config.boolean,
    },
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", required=True, metavar="NAME=PATH",
                        help="a variant and its checkpoint; the first is the baseline of the speedups")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if not all("=" in item for item in args.model):
        raise UserError(f"--model takes NAME=PATH, got {args.model}")
    paths = dict(item.split("=", 1) for item in args.model)
    params = config.load(PARAMS)
    loaded = {name: deployed(models.load_checkpoint(path)[0], params["timing"]["fold_batchnorm"])
              for name, path in paths.items()}  # all checked first

    timing = time_interleaved(loaded, next(iter(paths)), params["timing"])
    save_json(timing, args.out)
    for name, t in timing.items():
        print(f"{name:22s} {t['latency_ms']:7.3f} ms (IQR {t['latency_iqr_ms']:.3f})  speedup "
              f"{t['latency_speedup']:.2f}x (IQR {t['latency_speedup_iqr']:.2f})  {t['throughput_ips']:8.0f} images/s")


if __name__ == "__main__":
    run(main)
