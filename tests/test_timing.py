"""lib.timing: the round-robin order, and the statistics against a hand computation on a fake clock;
stages.timing: one runtime after the other."""
import json
import statistics
import sys
from types import SimpleNamespace

import pytest
import torch
import yaml

from lib import models, timing


def test_round_robin_rotates_the_first_call_and_warms_up_each(monkeypatch):
    calls = []
    timing._round_robin({n: (lambda n=n: calls.append(n)) for n in "abc"}, runs=3, warmup=2)
    assert calls == ["a", "a", "b", "b", "c", "c"] + ["a", "b", "c", "b", "c", "a", "c", "a", "b"]


def test_statistics_on_a_fake_clock(monkeypatch):
    """Each call of 'slow' takes 4 ticks and of 'fast' 1 tick, except 'fast' once takes 3: medians,
    IQRs and ratios as computed by hand from those durations (5 latency rounds, one untimed
    large-batch warm-up, 5 throughput rounds)."""
    durations = {"slow": iter([4] * 5 + [99] + [4] * 5), "fast": iter([1, 1, 3, 1, 1] + [99] + [1, 1, 3, 1, 1])}
    clock = [0.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])

    def call(name):
        return lambda *_: clock.__setitem__(0, clock[0] + next(durations[name]))

    fake = {"slow": call("slow"), "fast": call("fast")}
    monkeypatch.setattr(torch.nn.Module, "__call__", lambda self, x: fake[self.name]())
    nets = {}
    for name in ("slow", "fast"):
        nets[name] = torch.nn.Identity()
        nets[name].name = name
    out = timing.time_interleaved(nets, "slow", SimpleNamespace(latency_runs=5, warmup=0, throughput_batch=10,
                                                                   throughput_runs=5))
    assert out["slow"]["latency_ms"] == 4000 and out["fast"]["latency_ms"] == 1000
    assert out["fast"]["latency_speedup"] == 4.0 and out["slow"]["latency_speedup"] == 1.0
    q1, _, q3 = statistics.quantiles([1, 1, 3, 1, 1], n=4)
    assert out["fast"]["latency_iqr_ms"] == pytest.approx(1000 * (q3 - q1))
    q1, _, q3 = statistics.quantiles([4, 4, 4 / 3, 4, 4], n=4)
    assert out["fast"]["latency_speedup_iqr"] == pytest.approx(q3 - q1)
    assert out["fast"]["throughput_ips"] == 10.0 and out["fast"]["throughput_speedup"] == 4.0


def test_real_models_every_key(small_arch):
    nets = {"a": models.build(small_arch), "b": models.build(small_arch)}
    out = timing.time_interleaved(nets, "a", SimpleNamespace(latency_runs=4, warmup=1, throughput_batch=4,
                                                                throughput_runs=1))
    for t in out.values():
        assert set(t) == set(timing.KEYS) and t["latency_ms"] > 0 and t["throughput_ips"] > 0
    assert out["a"]["latency_speedup"] == 1.0


def test_deployed_folds_every_batch_norm_and_keeps_the_outputs(small_arch):
    torch.manual_seed(0)
    model = models.build(small_arch)
    for m in model.modules():  # batch-norm statistics and affine terms away from their defaults
        if isinstance(m, torch.nn.BatchNorm2d):
            for t in (m.running_mean, m.weight, m.bias):
                t.data.uniform_(-1, 1)
            m.running_var.data.uniform_(0.5, 2)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        expected = model.eval()(x)
        folded = timing.deployed(model, True)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        torch.testing.assert_close(folded(x), expected, rtol=1e-4, atol=1e-4)
        assert timing.deployed(model, False) is model


def test_the_stage_times_each_runtime_in_its_own_round_robin(small_arch, tmp_path, monkeypatch):
    """stages.timing never alternates the runtimes call by call (an onnxruntime call right after a PyTorch
    call is slower: benchmarks/bench_runtime_switch.py): one round robin of every variant in PyTorch, then
    one of every variant's onnxruntime session, then one of every int8 session, each against the first
    variant. (The float exports stand in for the int8 models here: the stage times whatever ONNX it is given.)"""
    import stages.timing
    from lib.onnx_export import export
    monkeypatch.chdir(tmp_path)
    argv = ["timing", "--out", "timing.json"]
    for name in ("a", "b"):
        torch.manual_seed(0)
        model = models.build(small_arch)
        models.save_checkpoint(f"{name}.pth", model, small_arch)
        export(model.eval(), f"{name}.onnx")
        argv += ["--model", f"{name}={name}.pth", "--onnx", f"{name}={name}.onnx", "--int8", f"{name}={name}.onnx"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"timing": {
        "latency_runs": 4, "warmup": 0, "throughput_batch": 2, "throughput_runs": 1, "fold_batchnorm": True}}))
    runs, real = [], stages.timing.time_interleaved

    def recording(calls, baseline, cfg):
        runs.append((list(calls), [isinstance(c, torch.nn.Module) for c in calls.values()], baseline))
        return real(calls, baseline, cfg)
    monkeypatch.setattr(stages.timing, "time_interleaved", recording)
    monkeypatch.setattr(sys, "argv", argv)
    stages.timing.main()
    assert runs == [(["a", "b"], [True, True], "a"), (["a", "b"], [False, False], "a"),
                    (["a", "b"], [False, False], "a")]
    written = json.loads((tmp_path / "timing.json").read_text())
    int8_keys = {"int8_latency_ms", "int8_latency_iqr_ms", "int8_throughput_ips", "int8_latency_speedup",
                 "int8_throughput_speedup", "int8_gain", "int8_throughput_gain"}
    assert set(written["b"]) == {*timing.KEYS, *(f"onnx_{k}" for k in timing.KEYS), *int8_keys}
    assert set(written["noise_floor"]) == {"pytorch", "onnx", "int8"}
    # a and b share one architecture: the floor is their spread in each runtime
    for runtime, prefix in (("pytorch", ""), ("onnx", "onnx_"), ("int8", "int8_")):
        a, b = written["a"][f"{prefix}latency_ms"], written["b"][f"{prefix}latency_ms"]
        assert written["noise_floor"][runtime] == pytest.approx(max(a, b) / min(a, b) - 1)


def test_a_speedup_is_resolved_only_outside_the_noise_floor_either_way():
    """The floor is a ratio (max / min - 1): 1.10x and its inverse, 0.909x, are the same distance from 1.00x."""
    assert timing.resolved(1.2, 0.1) and timing.resolved(1 / 1.2, 0.1)
    assert not timing.resolved(1.05, 0.1) and not timing.resolved(1 / 1.05, 0.1)
    assert not timing.resolved(0.72, 0.4) and timing.resolved(0.72, 0.3)  # 0.72x is 1.39x slower
