"""Collect a seed sweep: the DVC experiments of `make seeds` (one per seed) -> reports/seeds/summary.json,
summary.md (per variant n, mean ± sd; per pruned variant and control the paired difference with its
95 % t-interval over seeds) and seeds.png. Reads `dvc exp show --json` output from files (or - for
stdin), or runs `dvc exp show --json` itself. Outside the pipeline: no stage runs it.

    python -m tools.seeds                                   # experiments named seeds-seed<k> at HEAD
    python -m tools.seeds --prefix long --metric vs_dense_extra --out-dir reports/seeds-long
    dvc exp show --json -A > exps.json && python -m tools.seeds --exp-show exps.json"""
import argparse
import json
import os
import subprocess
import sys

from lib import seeds
from lib.errors import UserError, run


def read_exp_show(paths, rev=None, all_commits=False):
    """The parsed `dvc exp show --json` records: the files' lists joined, or DVC's own output."""
    if paths:
        records = []
        for path in paths:
            name = "standard input" if path == "-" else path
            try:
                text = sys.stdin.read() if path == "-" else open(path).read()
                records += json.loads(text)
            except OSError as err:
                raise UserError(f"cannot read {name}: {err.strerror}") from err
            except (json.JSONDecodeError, TypeError) as err:
                raise UserError(f"{name} is not the JSON list `dvc exp show --json` prints ({err})") from err
        return records
    cmd = [sys.executable, "-m", "dvc", "exp", "show", "--json"]
    cmd += ["-A"] if all_commits else ["--rev", rev] if rev else []
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"`dvc exp show --json` failed (exit {result.returncode}): {result.stderr.strip()[-800:]}")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as err:
        raise UserError(f"`dvc exp show --json` printed no JSON ({err}): {result.stdout[:200]!r}") from err


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp-show", nargs="+", metavar="FILE",
                        help="`dvc exp show --json` output (- for stdin); default: run it here")
    parser.add_argument("--rev", help="with no --exp-show: the baseline commit of the experiments (default HEAD)")
    parser.add_argument("--all-commits", "-A", action="store_true",
                        help="with no --exp-show: experiments of every baseline commit")
    parser.add_argument("--prefix", default="seeds",
                        help="take the experiments named <prefix>-seed... (default: seeds, as make seeds names them)")
    parser.add_argument("--any-name", action="store_true", help="take every finished experiment, whatever its name")
    parser.add_argument("--seeds", nargs="+", type=int, help="only these values of the seed param")
    parser.add_argument("--metric", default=seeds.METRIC,
                        help=f"key of reports/metrics/<variant>.json (default {seeds.METRIC}: test accuracy, %%)")
    parser.add_argument("--out-dir", default="reports/seeds")
    args = parser.parse_args()

    records = read_exp_show(args.exp_show, args.rev, args.all_commits)
    finished, aside = seeds.experiments(records)
    chosen = seeds.select(finished, None if args.any_name else args.prefix, args.seeds)
    names = {e["params"]["seed"]: e["name"] for e in chosen}
    prefix = None if args.any_name else f"{args.prefix}-seed"
    aside = [(n, s) for n, s in aside if prefix is None or (n or "").startswith(prefix)]
    values, left_out = seeds.table(chosen, args.metric)
    summary = seeds.summarise(values)

    from lib.io import save_figure, save_json, save_text  # torch comes with lib.io: after the input is checked
    text = seeds.markdown(summary, args.metric, names, left_out, aside)
    save_json(seeds.to_json(summary, args.metric, names, left_out, aside), os.path.join(args.out_dir, "summary.json"))
    save_text(text, os.path.join(args.out_dir, "summary.md"))
    save_figure(seeds.figure(summary, args.metric), os.path.join(args.out_dir, "seeds.png"))
    print(text)
    print(f"Written: {args.out_dir}/summary.json, summary.md, seeds.png")


if __name__ == "__main__":
    run(main)
