"""The seed sweep's summary (lib.seeds, tools.seeds): known answers on synthetic experiment records, a
t-interval computed by hand, bad input refused by name, and the parser on what DVC itself prints for
two experiments of a one-stage pipeline in a throwaway repo."""
import json
import math
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from lib import seeds
from lib.errors import UserError
from lib.variants import VARIANTS
from tiny_project import dvc, git

T_975_2 = 4.302652729749464  # t_{0.975, 2}, the 97.5 % quantile of Student's t with 2 degrees of freedom


def experiment(name, seed, values, executor=None, metric="test_acc"):
    """One experiment as `dvc exp show --json` lists it under its baseline commit."""
    metrics = {f"reports/metrics/{v}.json": {"data": {metric: x}} for v, x in values.items()}
    tip = {"rev": f"{seed:040d}", "name": name, "error": None, "experiments": None,
           "data": {"rev": f"{seed:040d}", "params": {"params.yaml": {"data": {"seed": seed, "device": "cpu"}}},
                    "metrics": metrics, "deps": {}, "outs": {}, "meta": {}}}
    return {"revs": [tip], "executor": executor, "name": name}


def records(*exps):
    """The whole `dvc exp show --json` output: the workspace, then the baseline commit with its experiments."""
    return [{"rev": "workspace", "name": None, "data": {"params": {}, "metrics": {}}, "error": None,
             "experiments": None},
            {"rev": "a" * 40, "name": "main", "data": {"params": {}, "metrics": {}}, "error": None,
             "experiments": list(exps)}]


def sweep(per_seed, prefix="seeds"):
    """Records of one experiment per seed: per_seed is {seed: {variant: value}}."""
    return records(*[experiment(f"{prefix}-seed{s}", s, values) for s, values in per_seed.items()])


# Three seeds; structured_finetuned minus dense_extra is 1, 2, 3 on seeds 0, 1, 2 (mean 2, sd 1), while each
# variant alone varies much more from seed to seed: the pairing is what makes the difference precise.
BASE = {0: 80.0, 1: 85.0, 2: 90.0}
PER_SEED = {s: {"original": b, "unstructured": b - 0.5, "structured": b - 20, "structured_finetuned": b - 1 + s,
                "dense_extra": b - 3 + 2 * s, "scratch": b - 2, "unstructured_random": b - 1.5,
                "structured_random": b - 3 + s} for s, b in BASE.items()}


def collect(recs, prefix="seeds", metric="test_acc", wanted=None):
    finished, _ = seeds.experiments(recs)
    values, left_out = seeds.table(seeds.select(finished, prefix, wanted), metric)
    return seeds.summarise(values), left_out


def test_an_interval_computed_by_hand():
    d = seeds.t_interval([1.0, 2.0, 3.0])
    half = T_975_2 / math.sqrt(3)  # t · sd / √n with sd = 1
    assert (d["n"], d["mean"], d["sd"]) == (3, 2.0, 1.0)
    assert d["t"] == pytest.approx(T_975_2, rel=1e-9)
    assert d["half_width"] == pytest.approx(half) and half == pytest.approx(2.4841, abs=1e-4)
    assert (d["low"], d["high"]) == (pytest.approx(2 - half), pytest.approx(2 + half))
    assert d["excludes_zero"] is False  # -0.48 .. 4.48
    assert seeds.t_interval([3.0, 4.0, 5.0])["excludes_zero"] is True  # 0.52 .. 5.48
    assert seeds.t_interval([-3.0, -4.0, -5.0])["excludes_zero"] is True


def test_known_answers_per_variant_and_paired_difference():
    summary, left_out = collect(sweep(PER_SEED))
    assert left_out == [] and summary["seeds"] == [0, 1, 2]
    assert list(summary["variants"]) == list(VARIANTS)
    original = summary["variants"]["original"]
    assert (original["n"], original["mean"], original["sd"]) == (3, 85.0, pytest.approx(5.0))
    assert original["values"] == BASE
    # only the pruned variants with controls, against exactly their registry controls
    assert {v: sorted(per) for v, per in summary["differences"].items()} == \
        {v: sorted(spec["controls"]) for v, spec in VARIANTS.items() if spec["controls"]}
    diff = summary["differences"]["structured_finetuned"]["dense_extra"]
    assert diff["values"] == {0: 2.0, 1: 1.0, 2: 0.0}  # (b - 1 + s) - (b - 3 + 2s) = 2 - s
    assert (diff["mean"], diff["sd"], diff["t"]) == (1.0, 1.0, pytest.approx(T_975_2))
    assert diff["half_width"] == pytest.approx(T_975_2 / math.sqrt(3)) and diff["excludes_zero"] is False
    constant = summary["differences"]["structured_finetuned"]["scratch"]  # 1 + s: 1, 2, 3
    assert (constant["mean"], constant["sd"]) == (2.0, 1.0)
    steady = summary["differences"]["unstructured"]["dense_extra"]  # 2.5 - 2s: 2.5, 0.5, -1.5
    assert steady["mean"] == pytest.approx(0.5) and steady["sd"] == pytest.approx(2.0)


def test_a_difference_without_spread_is_a_point_that_excludes_zero():
    same = {s: {v: 80.0 + s for v in VARIANTS} for s in range(3)}
    same = {s: {**values, "unstructured": values["unstructured"] - 1} for s, values in same.items()}
    diff = collect(sweep(same))[0]["differences"]["unstructured"]["dense_extra"]
    assert (diff["low"], diff["high"], diff["excludes_zero"]) == (-1.0, -1.0, True)


def test_one_seed_leaves_the_interval_undefined_and_says_so():
    summary, _ = collect(sweep({4: PER_SEED[0]}))
    diff = summary["differences"]["unstructured"]["dense_extra"]
    assert summary["variants"]["original"]["sd"] is None
    assert diff["mean"] == 2.5 and None is diff["low"] is diff["high"] is diff["excludes_zero"] is diff["t"]
    text = seeds.markdown(summary)
    assert "undefined, n < 2" in text and "t from scipy.stats.t" in text
    assert json.loads(json.dumps(seeds.to_json(summary), allow_nan=False))["variants"]["original"]["sd"] is None
    (ax,) = seeds.figure(summary).axes  # draws without an error bar
    assert [line.get_gid() for line in ax.lines if line.get_gid()] == ["seed 4"]


def test_the_figure_joins_each_seeds_variants():
    """One thin grey line per seed through that seed's value of every variant, beside the means ± sd."""
    summary, _ = collect(sweep(PER_SEED))
    (ax,) = seeds.figure(summary).axes
    joined = {line.get_gid(): line for line in ax.lines if (line.get_gid() or "").startswith("seed ")}
    assert sorted(joined) == ["seed 0", "seed 1", "seed 2"]
    for s in PER_SEED:
        line = joined[f"seed {s}"]
        assert line.get_ydata().tolist() == [PER_SEED[s][v] for v in summary["variants"]]
        assert line.get_color() == "grey" and line.get_linewidth() < 1
    assert len(ax.containers) == len(VARIANTS)  # the mean ± sd of each variant


def test_the_table_fits_120_columns_and_reads_as_documented():
    wide = {s: {v: -99.999 + 0.001 * s * i for i, v in enumerate(VARIANTS)} for s in range(12)}
    summary, _ = collect(sweep(wide))
    text = seeds.markdown(summary, "test_acc", {s: f"seeds-seed{s}" for s in range(12)}, aside=[("x", "queued")])
    assert max(len(line) for line in text.splitlines()) <= 120, text
    summary, _ = collect(sweep(PER_SEED))
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in seeds.markdown(summary).splitlines()
             if line.startswith("| ") and not line.startswith("| variant")]
    rows = {row[0]: row for row in cells}
    assert rows["structured_finetuned"][:3] == ["structured_finetuned", "3", "85.00 ± 6.00"]
    half = T_975_2 / math.sqrt(3)
    assert rows["structured_finetuned"][3:] == [f"+1.00 [{1 - half:+.2f}, {1 + half:+.2f}]",
                                                f"+2.00 [{2 - half:+.2f}, {2 + half:+.2f}]",
                                                "+2.00 [+2.00, +2.00] *"]  # vs random: no spread, excludes 0
    wide_half = 2 * half  # unstructured - dense_extra: 2.5, 0.5, -1.5 (sd 2)
    assert rows["unstructured"][3:] == [f"+0.50 [{0.5 - wide_half:+.2f}, {0.5 + wide_half:+.2f}]", "",
                                        "+1.00 [+1.00, +1.00] *"]  # the random column: each variant's own control
    assert rows["original"][3:] == ["", "", ""]
    assert "95 % t-interval" in " ".join(seeds.markdown(summary).split())  # wherever the paragraph wraps


def test_experiments_not_finished_and_other_names_are_left_aside():
    recs = sweep(PER_SEED)
    recs[1]["experiments"] += [
        experiment("seeds-seed7", 7, PER_SEED[0], executor={"state": "queued", "name": "dvc-task"}),
        experiment("seeds-seed8", 8, PER_SEED[0], executor={"state": "failed", "name": "dvc-task"}),
        experiment("other-seed1", 1, PER_SEED[0])]
    finished, aside = seeds.experiments(recs)
    assert aside == [("seeds-seed7", "queued"), ("seeds-seed8", "failed")]
    assert [e["params"]["seed"] for e in seeds.select(finished, "seeds")] == [0, 1, 2]
    assert [e["name"] for e in seeds.select(finished, "seeds", seeds=[0, 2])] == ["seeds-seed0", "seeds-seed2"]
    assert [e["name"] for e in seeds.select(finished, "other")] == ["other-seed1"]


def test_a_metric_only_some_variants_have_leaves_the_others_out():
    per_seed = {s: {v: {"test_acc": 80.0} for v in VARIANTS} for s in range(2)}
    for s in per_seed:
        per_seed[s]["unstructured"]["vs_dense_extra"] = -1.0 - s
    recs = records(*[experiment(f"seeds-seed{s}", s, {}) for s in per_seed])
    for exp, s in zip(recs[1]["experiments"], per_seed):
        exp["revs"][0]["data"]["metrics"] = {f"reports/metrics/{v}.json": {"data": m} for v, m in per_seed[s].items()}
    summary, left_out = collect(recs, metric="vs_dense_extra")
    assert list(summary["variants"]) == ["unstructured"] and summary["differences"] == {}
    assert left_out == [v for v in VARIANTS if v != "unstructured"]
    assert summary["variants"]["unstructured"]["mean"] == -1.5


def test_bad_input_is_refused_by_name():
    with pytest.raises(UserError, match=r"no experiments named 'other-seed\.\.\.' matched .*seeds-seed0"):
        collect(sweep(PER_SEED), prefix="other")
    with pytest.raises(UserError, match="no experiments"):
        collect(records())
    partial = sweep(PER_SEED)
    del partial[1]["experiments"][1]["revs"][0]["data"]["metrics"]["reports/metrics/scratch.json"]
    partial[1]["experiments"][2]["revs"][0]["data"]["metrics"]["reports/metrics/dense_extra.json"] = {
        "error": {"type": "FileNotFoundError", "msg": "..."}}
    with pytest.raises(UserError, match=r"missing in some seeds: reports/metrics/dense_extra\.json missing in seed 2 "
                                        r"\(seeds-seed2\); reports/metrics/scratch\.json missing in seed 1"):
        collect(partial)
    twice = sweep(PER_SEED)
    twice[1]["experiments"].append(experiment("seeds-seed1-again", 1, PER_SEED[1]))
    with pytest.raises(UserError, match="duplicate seeds: seed 1: seeds-seed1, seeds-seed1-again"):
        collect(twice)
    assert collect(sweep(PER_SEED) + sweep(PER_SEED))[0] == collect(sweep(PER_SEED))[0]  # two saved outputs
    with pytest.raises(UserError, match="no variant has the metric 'accuracy'; the metrics files hold: test_acc"):
        collect(sweep(PER_SEED), metric="accuracy")
    with pytest.raises(UserError, match="not a list"):
        seeds.experiments({"rev": "workspace"})


def run_tool(folder, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "tools.seeds", *args], cwd=folder, capture_output=True, text=True,
                          input=stdin, env={**os.environ, "PYTHONPATH": ROOT})


def test_the_tool_writes_the_three_outputs_and_refuses_clearly(tmp_path):
    (tmp_path / "exps.json").write_text(json.dumps(sweep(PER_SEED)))
    done = run_tool(tmp_path, "--exp-show", "exps.json", "--out-dir", "out")
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    assert summary["experiments"] == {"0": "seeds-seed0", "1": "seeds-seed1", "2": "seeds-seed2"}
    assert summary["differences"]["structured_finetuned"]["dense_extra"]["values"] == {"0": 2.0, "1": 1.0, "2": 0.0}
    assert "t-interval" in summary["interval"]
    assert (tmp_path / "out/summary.md").read_text() in done.stdout
    assert (tmp_path / "out/seeds.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    refused = run_tool(tmp_path, "--exp-show", "-", "--prefix", "nope", stdin=json.dumps(sweep(PER_SEED)))
    assert refused.returncode == 1 and "error: no experiments named 'nope-seed...'" in refused.stderr
    assert "Traceback" not in refused.stderr
    (tmp_path / "bad.json").write_text("{")
    refused = run_tool(tmp_path, "--exp-show", "bad.json")
    assert refused.returncode == 1 and "bad.json is not the JSON list" in refused.stderr


@pytest.fixture(scope="module")
def dvc_repo(tmp_path_factory):
    """A one-stage DVC repo whose stage writes reports/metrics/<variant>.json (test_acc = 80 + 0.5 · seed +
    the variant's index) from the seed param; two experiments run (seeds 3 and 5), one queued (seed 9)."""
    repo = tmp_path_factory.mktemp("dvc_seeds")
    (repo / "params.yaml").write_text("seed: 0\nother: 1\n")
    (repo / "write.py").write_text(
        "import json, os, yaml\n"
        "seed = yaml.safe_load(open('params.yaml'))['seed']\n"
        "os.makedirs('reports/metrics', exist_ok=True)\n"
        f"for i, v in enumerate({list(VARIANTS)!r}):\n"
        "    json.dump({'test_acc': 80 + 0.5 * seed + i}, open(f'reports/metrics/{v}.json', 'w'))\n")
    metrics = "".join(f"      - reports/metrics/{v}.json\n" for v in VARIANTS)
    (repo / "dvc.yaml").write_text("stages:\n  write:\n    cmd: python write.py\n    deps: [write.py]\n"
                                   "    params: [seed]\n    metrics:\n" + metrics)
    git(repo, "init", "-q")
    dvc(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one stage")
    for seed in (3, 5):
        dvc(repo, "exp", "run", "--name", f"seeds-seed{seed}", "-S", f"seed={seed}")
    dvc(repo, "exp", "run", "--queue", "--name", "seeds-seed9", "-S", "seed=9")
    return repo


def test_the_parser_reads_what_dvc_exp_show_prints(dvc_repo):
    shown = json.loads(dvc(dvc_repo, "exp", "show", "--json"))
    finished, aside = seeds.experiments(shown)
    assert sorted(e["name"] for e in finished) == ["seeds-seed3", "seeds-seed5"]
    assert aside == [("seeds-seed9", "queued")]
    chosen = seeds.select(finished, "seeds")
    assert [e["params"] for e in chosen] == [{"seed": 3, "other": 1}, {"seed": 5, "other": 1}]
    values, left_out = seeds.table(chosen)
    assert left_out == [] and values == {s: {v: 80 + 0.5 * s + i for i, v in enumerate(VARIANTS)} for s in (3, 5)}
    summary = seeds.summarise(values)
    assert summary["variants"]["original"] == {"n": 2, "mean": 82.0, "sd": pytest.approx(math.sqrt(0.5)),
                                               "values": {3: 81.5, 5: 82.5}}
    diff = summary["differences"]["unstructured"]["dense_extra"]  # index 1 - index 4 on both seeds
    assert diff["values"] == {3: -3.0, 5: -3.0} and (diff["low"], diff["high"]) == (-3.0, -3.0)


def test_the_tool_runs_dvc_exp_show_itself(dvc_repo):
    done = subprocess.run([sys.executable, "-m", "tools.seeds", "--out-dir", "out"], cwd=dvc_repo,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    assert done.returncode == 0, done.stderr
    summary = json.loads((dvc_repo / "out/summary.json").read_text())
    assert summary["seeds"] == [3, 5] and summary["set_aside"] == [{"name": "seeds-seed9", "state": "queued"}]
    assert "seeds-seed9 (queued)" in done.stdout
    refused = subprocess.run([sys.executable, "-m", "tools.seeds", "--rev", "no-such-commit"], cwd=dvc_repo,
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    assert refused.returncode == 1 and "`dvc exp show --json` failed" in refused.stderr
