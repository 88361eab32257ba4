"""Seeds as a sweep: the same pipeline run once per seed as DVC experiments, summarised per variant
(n, mean, sample sd) and, for each pruned variant, its paired difference to each same-budget control
(the same seed on both sides) with a two-sided t-interval over the seeds (scipy.stats.t).

Pure functions on the records of `dvc exp show --json` (parsed JSON, no DVC import):

    [{"rev": "workspace", "name": null, "data": {...}, "experiments": null},          # skipped
     {"rev": <baseline commit>, "name": <branch>, "data": {...},                       # skipped
      "experiments": [{"name": <exp name>, "executor": null | {"state": "queued" | "running" | "failed" | ...},
                       "revs": [{"rev": <exp commit>, "name": <exp name>, "error": null,
                                 "data": {"params": {"params.yaml": {"data": {"seed": 0, ...}}},
                                          "metrics": {"reports/metrics/<variant>.json": {"data": {"test_acc": ...}}
                                                      | {"error": {...}}}}}]}]}]

The first entry of `revs` is the experiment's result. Experiments still queued or running, or failed,
are set aside (reported), never averaged."""
import math
import textwrap

from scipy import stats

from lib.errors import UserError
from lib import report
from lib.variants import VARIANTS

METRIC = "test_acc"  # compare's rounded test accuracy, in reports/metrics/<variant>.json
CONFIDENCE = 0.95
METRICS_PATH = "reports/metrics/{}.json"
INTERVAL = ("two-sided 95 % t-interval over seeds of the paired difference (variant minus control, same seed): "
            "mean ± t_{0.975, n-1} · sd / √n, t from scipy.stats.t; undefined for n < 2")


def experiments(records):
    """(finished, set aside) from parsed `dvc exp show --json` output (a list, or several lists joined;
    an experiment listed twice, same name and commit, counts once):
    finished is [{"name", "rev", "params", "metrics"}], params being params.yaml's data and metrics
    {path: data dict or None where DVC reports an error}; set aside is [(name, state)] of the
    experiments queued, running or failed."""
    finished, aside, seen = [], [], set()
    if not isinstance(records, list):
        raise UserError("the `dvc exp show --json` output is not a list of commits; pass what `dvc exp show "
                        "--json` prints")
    for commit in records:
        if not isinstance(commit, dict):
            raise UserError(f"an entry of the `dvc exp show --json` output is not an object: {commit!r:.80}")
        for exp in commit.get("experiments") or []:
            revs = exp.get("revs") or []
            name = exp.get("name") or (revs[0].get("name") if revs else None)
            state = (exp.get("executor") or {}).get("state")
            tip = revs[0] if revs else {}
            if (name, tip.get("rev")) in seen:  # the same experiment in two saved outputs: once
                continue
            seen.add((name, tip.get("rev")))
            if state not in (None, "success") or tip.get("error") or not tip.get("data"):
                aside.append((name, state or "failed"))
                continue
            data = tip["data"]
            params = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
            metrics = {path: (entry or {}).get("data")  # an unreadable file: {"error": ...}, no data
                       for path, entry in (data.get("metrics") or {}).items()}
            finished.append({"name": name, "rev": tip.get("rev"), "params": params, "metrics": metrics})
    return finished, aside


def select(finished, prefix=None, seeds=None):
    """The experiments named `<prefix>-seed...` (every one when prefix is None), restricted to those
    whose `seed` param is in `seeds` (when given). Refuses none matched, one without a seed param and
    a seed met twice."""
    chosen = [e for e in finished if prefix is None or (e["name"] or "").startswith(f"{prefix}-seed")]
    no_seed = [e["name"] for e in chosen if not isinstance(e["params"].get("seed"), int)
               or isinstance(e["params"].get("seed"), bool)]
    if no_seed:
        raise UserError(f"experiments without an integer `seed` param in params.yaml: {', '.join(map(str, no_seed))}")
    if seeds is not None:
        chosen = [e for e in chosen if e["params"]["seed"] in set(seeds)]
    if not chosen:
        where = f"named '{prefix}-seed...'" if prefix is not None else "finished"
        also = f" with seed in {sorted(set(seeds))}" if seeds is not None else ""
        names = sorted({str(e['name']) for e in finished})
        raise UserError(f"no experiments {where}{also} matched (finished experiments seen: "
                        f"{', '.join(names) if names else 'none'}); run them with `make seeds`, or look at "
                        "another baseline commit (--rev, --all-commits)")
    by_seed = {}
    for e in chosen:
        by_seed.setdefault(e["params"]["seed"], []).append(e["name"])
    twice = {seed: names for seed, names in by_seed.items() if len(names) > 1}
    if twice:
        listed = "; ".join(f"seed {seed}: {', '.join(map(str, names))}" for seed, names in sorted(twice.items()))
        raise UserError(f"duplicate seeds: {listed}; keep one experiment per seed (a different --prefix, "
                        "--seeds, or --rev for one baseline commit)")
    return sorted(chosen, key=lambda e: e["params"]["seed"])


def table(chosen, metric=METRIC, variants=VARIANTS):
    """{seed: {variant: value}} of `metric` read from each experiment's reports/metrics/<variant>.json,
    and the variants left out because no seed has the metric (e.g. vs_scratch for most variants).
    Refuses a metrics file missing in some seeds and a metric present in only some seeds, naming them."""
    out = {e["params"]["seed"]: {} for e in chosen}
    missing_file, missing_key, left_out = {}, {}, []
    for variant in variants:
        path = METRICS_PATH.format(variant)
        have = {}
        for e in chosen:
            data = e["metrics"].get(path)
            if data is None:
                missing_file.setdefault(variant, []).append(f"seed {e['params']['seed']} ({e['name']})")
            elif metric in data:
                have[e["params"]["seed"]] = data[metric]
        if variant in missing_file:
            continue
        if not have:
            left_out.append(variant)
        elif len(have) < len(chosen):
            missing_key[variant] = [f"seed {e['params']['seed']} ({e['name']})" for e in chosen
                                    if e["params"]["seed"] not in have]
        for seed, value in have.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise UserError(f"{path} of seed {seed}: '{metric}' is {value!r}, not a number")
            out[seed][variant] = float(value)
    problems = [f"{METRICS_PATH.format(v)} missing in {', '.join(where)}" for v, where in missing_file.items()]
    problems += [f"'{metric}' missing from {METRICS_PATH.format(v)} in {', '.join(where)}"
                 for v, where in missing_key.items()]
    if problems:
        raise UserError("a variant is missing in some seeds: " + "; ".join(problems) + " (a failed or partial "
                        "run? re-run that seed, or leave it out with --seeds)")
    if len(left_out) == len(variants):
        keys = sorted({k for e in chosen for data in e["metrics"].values() if data for k in data})
        raise UserError(f"no variant has the metric '{metric}'; the metrics files hold: {', '.join(keys)}")
    return out, left_out


def describe(values):
    """n, mean and sample sd (n - 1 in the denominator; None for n < 2) of a list of numbers."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return {"n": n, "mean": mean, "sd": sd}


def t_interval(differences, confidence=CONFIDENCE):
    """describe() of the paired differences, plus the two-sided t-interval of their mean: t (the
    t distribution's (1 + confidence) / 2 quantile with n - 1 degrees of freedom), half_width
    t · sd / √n, low, high and whether it excludes 0; all None for n < 2 (no spread to estimate)."""
    out = describe(differences)
    n, sd = out["n"], out["sd"]
    if n < 2:
        return {**out, "t": None, "half_width": None, "low": None, "high": None, "excludes_zero": None}
    t = float(stats.t.ppf((1 + confidence) / 2, n - 1))
    half = t * sd / math.sqrt(n)
    low, high = out["mean"] - half, out["mean"] + half
    return {**out, "t": t, "half_width": half, "low": low, "high": high, "excludes_zero": low > 0 or high < 0}


def summarise(values, variants=VARIANTS, confidence=CONFIDENCE):
    """From {seed: {variant: value}}: per variant n, mean, sd and the values by seed; per pruned variant
    and each of its controls (lib.variants) the paired differences by seed and their t-interval."""
    seeds = sorted(values)
    present = [v for v in variants if any(v in values[s] for s in seeds)]
    summary = {"seeds": seeds, "confidence": confidence, "variants": {}, "differences": {}}
    for v in present:
        by_seed = {s: values[s][v] for s in seeds if v in values[s]}
        summary["variants"][v] = {**describe(list(by_seed.values())), "values": by_seed}
    for v in present:
        for control in variants[v]["controls"]:
            if control not in present:
                continue
            paired = {s: values[s][v] - values[s][control] for s in seeds if v in values[s] and control in values[s]}
            summary["differences"].setdefault(v, {})[control] = {**t_interval(list(paired.values()), confidence),
                                                                   "values": paired}
    return summary


def columns_of(summary):
    """{column: the controls shown in it}, in the registry's order: a control's column is its registry
    `column` (both random-pruning controls share `random`), or its name."""
    seen = {c for per in summary["differences"].values() for c in per}
    columns = {}
    for c in [v for v in VARIANTS if v in seen] + sorted(seen - set(VARIANTS)):
        columns.setdefault(VARIANTS.get(c, {}).get("column", c), []).append(c)
    return columns


def _num(x, signed=False):
    return "-" if x is None else (f"{x:+.2f}" if signed else f"{x:.2f}")


def markdown(summary, metric=METRIC, experiments_by_seed=None, left_out=(), aside=()):
    """summary.md: a paragraph on what the numbers are, then one row per variant (within 120 columns):
    n, mean ± sd and, per control, the mean paired difference with its interval and whether the
    interval excludes 0."""
    columns = columns_of(summary)
    pct = f"{summary['confidence'] * 100:g} %"
    header = ["variant", "n", "mean ± sd"]
    header += [f"vs {column} [{pct} CI]" for column in columns]
    rows = []
    for v, d in summary["variants"].items():
        cells = [v, str(d["n"]), f"{d['mean']:.2f} ± {_num(d['sd'])}"]
        for members in columns.values():
            mine = summary["differences"].get(v, {})
            diff = next((mine[c] for c in members if c in mine), None)
            if diff is None:
                cells.append("")
            elif diff["low"] is None:
                cells.append(f"{diff['mean']:+.2f} [undefined, n < 2]")
            else:
                cells.append(f"{diff['mean']:+.2f} [{diff['low']:+.2f}, {diff['high']:+.2f}]"
                             + (" *" if diff["excludes_zero"] else ""))
        rows.append(cells)
    lines = report.table(header, rows)
    seeds = ", ".join(str(s) for s in summary["seeds"])
    n = len(summary["seeds"])
    t_note = f" With n = {n}, t = {stats.t.ppf((1 + summary['confidence']) / 2, n - 1):.3f}." if n > 1 else ""
    q = (1 + summary["confidence"]) / 2
    intro = (f"Metric `{metric}` of reports/metrics/<variant>.json over {n} seed(s) ({seeds}): per variant the "
             "number of seeds, the mean and the sample standard deviation (n - 1 in the denominator). "
             "`vs <control>`: the mean paired difference, variant minus its same-budget control on the same seed "
             "(`random`: its own random-pruning control), "
             f"and in brackets its two-sided {pct} t-interval over the seeds, mean ± t_{{{q:g}, n-1}} · sd / √n "
             "(t from scipy.stats.t; undefined for n < 2)." + t_note + " `*`: the interval excludes 0 (the "
             "difference is larger than seed-to-seed variation explains at this level; without it, the seeds cannot "
             "tell the difference from noise).")
    text = ["# Seeds: each variant over several runs", "", textwrap.fill(intro, width=120), ""]
    text += lines
    notes = []
    if experiments_by_seed:
        pairs = sorted(experiments_by_seed.items())
        notes.append("Experiments: " + ", ".join(f"seed {s} = {name}" for s, name in pairs) + ".")
    if left_out:
        notes.append(f"Without `{metric}` in any seed, left out: {', '.join(left_out)}.")
    if aside:
        notes.append("Not finished, set aside: " + ", ".join(f"{name} ({state})" for name, state in aside) + ".")
    for note in notes:
        text += [""] + textwrap.wrap(note, width=120)
    return "\n".join(text) + "\n"


def _offset(j, count):
    """Where seed number `j` of `count` stands to the right of its variant's mean."""
    return 0.25 + 0.15 * (j - (count - 1) / 2) / max(1, count - 1)


def figure(summary, metric=METRIC):
    """Per variant the mean with sd error bars, and each seed as a point beside it, a thin grey line
    joining one seed's points across the variants (the design is paired: a seed's variants share its
    baseline); a matplotlib Figure. Each seed's line has the gid "seed <k>"."""
    from matplotlib.figure import Figure
    names = list(summary["variants"])
    fig = Figure(figsize=(max(6.0, 1.4 * len(names)), 4.5))
    ax = fig.subplots()
    seeds = summary["seeds"]
    for i, v in enumerate(names):
        d = summary["variants"][v]
        ax.errorbar(i, d["mean"], yerr=d["sd"] or 0.0, fmt="o", color="black", capsize=6, markersize=7,
                    label="mean ± sd" if i == 0 else None, zorder=3)
    for j, s in enumerate(seeds):
        xy = [(i + _offset(j, len(seeds)), summary["variants"][v]["values"][s]) for i, v in enumerate(names)
              if s in summary["variants"][v]["values"]]
        if not xy:
            continue
        ax.plot(*zip(*xy), color="grey", linewidth=0.7, alpha=0.6, zorder=1, gid=f"seed {s}",
                label="one seed's variants" if j == 0 else None)
        ax.scatter(*zip(*xy), color=f"C{j % 10}", s=22, zorder=2, label=f"seed {s}")
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize="small", ncols=2)
    ax.set_title(f"{metric} over {len(seeds)} seed(s): mean ± sample sd, one point per seed, "
                 "a seed's variants joined")
    fig.tight_layout()
    return fig


def to_json(summary, metric=METRIC, experiments_by_seed=None, left_out=(), aside=()):
    """summary.json: the summary with string keys (JSON objects), None as null, and what it holds."""
    def keyed(d):
        return {str(k): keyed(v) if isinstance(v, dict) else v for k, v in d.items()}
    return {"metric": metric, "interval": INTERVAL, **keyed(summary),
            "experiments": {str(s): n for s, n in sorted((experiments_by_seed or {}).items())},
            "left_out": list(left_out), "set_aside": [{"name": n, "state": s} for n, s in aside]}

