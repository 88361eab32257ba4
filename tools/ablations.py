"""One-setting experiments beside a reference run, recorded and rendered like its seeds: an experiment
changes a few params of one seed's run (a criterion, a target, a schedule) and re-runs the stages that
read them (`dvc exp run -n <name> -S <key>=<value> ... <stage>`); its records are the params and the
evaluations of the variants it re-ran, with the dvc.lock that proves they came from those params.

    python -m tools.ablations collect --run cpu-12ep --name crit-l2 --variants structured_finetuned \\
        --group "Filter importance criteria" --workspace ../ref       # after `dvc exp apply crit-l2` there

The results page (tools.results render) shows each group as a table: the experiment, what it changed
from its seed's run (read from the two params files, not typed), each variant's validation and test accuracy
beside that seed's and the test difference; under it, each experiment's `dvc exp run`, derived from the run's own
command (run.json), the changed params and the stages that wrote its evaluations."""
import argparse
import glob
import json
import os
import re
import shutil

from lib import config

from lib.errors import UserError, run
from lib.io import save_json
from lib.report import table
from lib.variants import VARIANTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def flat(d, prefix=""):
    """{"a.b": value} of nested dicts."""
    out = {}
    for k, v in d.items():
        out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def changes(params, reference, read=()):
    """The keys whose values differ from `reference`'s, as "key=value", sorted; a key `reference` lacks
    (added to the project after the run) only where it is in `read`, the keys the re-run stages read."""
    a, b = flat(params), flat(reference)
    return sorted(f"{k}={a.get(k)}" for k in a.keys() | b.keys()
                  if (a.get(k) != b[k] if k in b else k in read))


def outputs(lock):
    """{path: (the stage that writes it, its md5)} of every output dvc.lock records."""
    return {out["path"]: (name, out.get("md5")) for name, stage in lock["stages"].items()
            for out in stage.get("outs", [])}


def params_read(lock, stage):
    """{"key": value} of the params.yaml keys dvc.lock records for `stage`."""
    return flat(lock["stages"][stage].get("params", {}).get("params.yaml", {}))


def writer(lock, path):
    """The stage of dvc.lock that writes `path`."""
    found = outputs(lock).get(path)
    if found is None:
        raise UserError(f"no stage of dvc.lock writes {path}")
    return found[0]


def evaluation(variant):
    return f"reports/eval/{VARIANTS[variant]['evaluation']}.json"


def targets(lock, variant):
    """The stages an experiment re-runs to a variant's evaluation: the one that makes its checkpoint and the
    one that measures it (a single stage in runs whose training stages measured their own variants)."""
    return {writer(lock, VARIANTS[variant]["checkpoint"]), writer(lock, evaluation(variant))}


def check_lock(lock, params, variant):
    """The stage of dvc.lock that wrote the variant's evaluation ran with `params` (every param it records has
    params.yaml's value) and from the current outputs of the stages before it (each of its deps has the
    hash dvc.lock gives the stage that writes it): else the workspace holds an evaluation of another run,
    one the experiment did not re-run."""
    path, written, values = evaluation(variant), outputs(lock), flat(params)
    name = writer(lock, path)
    wrong = {k: v for k, v in params_read(lock, name).items() if k in values and values[k] != v}
    older = [d["path"] for d in lock["stages"][name].get("deps", [])
             if d["path"] in written and written[d["path"]][1] != d.get("md5")]
    if wrong or older:
        raise UserError(f"{path} was written by stage {name} with " + (f"{wrong}, not params.yaml's values"
                        if wrong else f"an older {', '.join(older)}") + ": list only the variants the "
                        "experiment re-ran")


def upstream(lock, stage):
    """`stage` and every stage of dvc.lock whose outputs it reads, directly or through others."""
    written = outputs(lock)
    found, todo = set(), [stage]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo += [written[d["path"]][0] for d in lock["stages"][name].get("deps", []) if d["path"] in written]
    return found


def experiment_changes(lock, params, reference, variants):
    """The params the experiment changed from its seed's run (`reference`), as "key=value": each is read by
    a stage its evaluations come from, else it is a setting left in params.yaml by an earlier `dvc exp run
    -S` (each edits the workspace's params.yaml), which the record would show as a change it did not make.
    An experiment on newer code may set keys the run predates: those the re-run stages read are changes
    (the run behaved as without them), the others cannot have touched its evaluations."""
    stages = set().union(*(upstream(lock, writer(lock, VARIANTS[v]["checkpoint"])) | {writer(lock, evaluation(v))}
                           for v in variants))
    read = set().union(*(params_read(lock, s) for s in stages))
    changed = changes(params, reference, read)
    unread = [c for c in changed if c.split("=")[0] not in read]
    if unread:
        raise UserError(f"the experiment changed {unread} from its seed's run, which no stage of {variants} reads: "
                        "left by an earlier experiment? Run it again from the committed params.yaml (git checkout "
                        "params.yaml first)")
    return changed


def collect(workspace, folder, group, variants, code=None):
    params = config.parse(os.path.join(workspace, "params.yaml"))
    lock = config.parse(os.path.join(workspace, "dvc.lock"))
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise UserError(f"unknown variant(s) {unknown}; the variants are {list(VARIANTS)}")
    for v in variants:
        check_lock(lock, params, v)
    reference = os.path.join(os.path.dirname(os.path.dirname(folder)), f"seed{params['seed']}", "params.yaml")
    if not os.path.isfile(reference):
        raise UserError(f"{reference} does not exist: collect the run's seed {params['seed']} first")
    experiment_changes(lock, params, config.parse(reference), variants)
    os.makedirs(os.path.join(folder, "reports", "eval"), exist_ok=True)
    for name in ("params.yaml", "dvc.lock", *(evaluation(v) for v in variants)):
        shutil.copyfile(os.path.join(workspace, name), os.path.join(folder, name))
    save_json({"group": group, "variants": variants, **({"code": code} if code else {})},
              os.path.join(folder, "ablation.json"))


def command(run_command, name, seed, changed, stages):
    """The experiment's `dvc exp run`: the run's command (its `-n <name>` and `<k>` standing for the seed)
    for this name and seed, the changed params as -S options, the stages it targets."""
    line = re.sub(r"-n \S+", f"-n {name}", run_command).replace("<k>", str(seed))
    return " ".join([line, *(f"-S {c}" for c in changed), *stages])


def experiments(run_dir, per_seed):
    """(name, its ablation.json, its params) of each of the run's experiments (results/<run>/ablations/<name>/),
    by name; one whose seed `per_seed` (the run's records) lacks is refused."""
    found = []
    for folder in sorted(glob.glob(os.path.join(run_dir, "ablations", "*"))):
        meta = json.load(open(os.path.join(folder, "ablation.json")))
        params = config.parse(os.path.join(folder, "params.yaml"))
        if params["seed"] not in per_seed:
            raise UserError(f"{folder} ran seed {params['seed']}, of which {run_dir} has no records")
        found.append((os.path.basename(folder), meta, params))
    return found


def section(run_dir, per_seed, run_command, run_code=None):
    """The results page's lines for the run's experiments (results/<run>/ablations/<name>/), one table
    per group and the commands that ran them (from `run_command`, the run's own, and `run_code`, the
    commit it ran: an experiment on other code says so); none: no lines."""
    groups = {}
    for name, meta, params in experiments(run_dir, per_seed):
        groups.setdefault(meta["group"], []).append((name, meta, params))
    if not groups:
        return []
    lines = ["## One-setting experiments", "",
             "Each changes the params shown from one seed's run of this page and re-runs the stages that read "
             "them (its command under its table); accuracy in %, the same seed's run beside it. A setting is chosen "
             "on the validation split; the test split only reports. One seed each: a difference within the "
             "seeds' spread above is not resolved.", ""]
    for group, entries in groups.items():
        rows, commands, code = [], [], []
        for name, meta, params in entries:
            reference = per_seed[params["seed"]]
            lock = config.parse(os.path.join(run_dir, "ablations", name, "dvc.lock"))
            changed_params = experiment_changes(lock, params, reference["params.yaml"], meta["variants"])
            changed = ", ".join(f"`{c}`" for c in changed_params)
            stages = sorted(set().union(*(targets(lock, v) for v in meta["variants"])))
            commands.append("    " + command(run_command, name, params["seed"], changed_params, stages))
            if meta.get("code", run_code) != run_code:
                code.append(f"{name} ran commit `{meta['code'][:12]}` of this repository"
                            + (f", the run `{run_code[:12]}`." if run_code else "."))
            for v in meta["variants"]:
                path = evaluation(v)
                ours, theirs = json.load(open(os.path.join(run_dir, "ablations", name, path))), reference[path]
                rows.append([name, changed, v, f"{ours['val_accuracy']:.2f}", f"{ours['test_accuracy']:.2f}",
                             f"{theirs['val_accuracy']:.2f}, {theirs['test_accuracy']:.2f} (seed {params['seed']})",
                             f"{ours['test_accuracy'] - theirs['test_accuracy']:+.2f}"])
        lines += [f"**{group}**", "", *table(["experiment", "changed", "variant", "validation acc.", "test acc.",
                                              "the seed's run (validation, test)", "test difference"], rows)]
        lines += ["", *commands, "", *([" ".join(code), ""] if code else [])]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="record one experiment applied in a workspace")
    c.add_argument("--run", required=True, help="the reference run, results/<run>/")
    c.add_argument("--name", required=True, help="the experiment's name (its folder)")
    c.add_argument("--group", required=True, help="the question it answers: the title of its table")
    c.add_argument("--variants", nargs="+", required=True, help="the variants it re-ran")
    c.add_argument("--workspace", required=True)
    c.add_argument("--code", help="the commit the experiment ran, where it is not the run's (run.json's code)")
    args = parser.parse_args()
    folder = os.path.join(ROOT, "results", args.run, "ablations", args.name)
    collect(args.workspace, folder, args.group, args.variants, args.code)
    print(f"records of {args.name} -> {folder}")


if __name__ == "__main__":
    run(main)
