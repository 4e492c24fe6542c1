"""Benchmark: ONNX policy inference latency per onnxruntime provider, and the runner's loop timing.

    python experiments/benchmark_runner.py [--policy policy.onnx] [--calls 5000] [--seconds 10]

Inference: for every provider the runner can use (TensorRT, CUDA, CPU: those onnxruntime offers
here), ``mjx_walker.runner.inference.OnnxPolicy(path, providers=[p])`` is called ``--calls`` times
on random-normal observations of the policy's size, after ``--warmup`` untimed calls (TensorRT
builds its engine then); each call is timed alone with ``time.perf_counter`` (the same call the
control loop times). Reports p50/p99/mean/max in ms. Back-to-back calls run with warm caches; the
loop's own inference p50 (one call per 20 ms tick, physics in between) is what a robot sees.

Loop: the code path of ``python -m mjx_walker.run policy.onnx --backend mujoco --realtime``
(``mjx_walker.runner.session.run_policy``: provider chosen as the runner does, MuJoCo C backend on
the wall clock, safety layer, start-up ramp included) for ``--seconds``; reports its
``RunStats.summary()`` (tick jitter p50/p99 = |tick start - scheduled start|, deadline misses,
inference p50/p99) plus the period and the ticks expected. On a loaded machine jitter and misses
measure the machine, not the runner.

Writes a JSON record (``experiments/_record.py``) to ``--out`` (default experiments/results/).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import _record
import numpy as np
import onnxruntime as ort

from mjx_walker.runner.inference import PROVIDER_ORDER, OnnxPolicy, choose_providers
from mjx_walker.runner.session import run_policy

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICY = ROOT / "models" / "policies" / "berkeley_humanoid_cpu" / "policy.onnx"


def percentiles_ms(seconds: list[float] | np.ndarray) -> dict[str, float]:
    """p50, p99, mean and max of durations given in seconds, in ms."""
    ms = np.asarray(seconds, float) * 1e3
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "max_ms": float(ms.max()),
    }


def inference_latency(path: Path, provider: str, calls: int, warmup: int) -> dict[str, Any]:
    """Per-call latency of the policy on one provider (random-normal observations)."""
    policy = OnnxPolicy(path, providers=[provider], verbose=False)
    obs = np.random.default_rng(0).standard_normal((calls + warmup, policy.meta.obs_dim)).astype(np.float32)
    for x in obs[:warmup]:
        policy(x)
    times = np.empty(calls)
    for i, x in enumerate(obs[warmup:]):
        start = time.perf_counter()
        policy(x)
        times[i] = time.perf_counter() - start
    return {"provider": provider, "provider_used": policy.provider, "calls": calls, **percentiles_ms(times)}


def loop_timing(path: Path, seconds: float, command: tuple[float, float, float]) -> dict[str, Any]:
    """Realtime control loop on the MuJoCo backend, as ``python -m mjx_walker.run --realtime`` runs it."""
    result = run_policy(path, "mujoco", command, seconds, realtime=True, verbose=False)
    stats, period = result.stats, result.meta.ctrl_dt
    summary = stats.summary()
    summary.update(
        seconds=seconds,
        command=list(command),
        period_ms=period * 1e3,
        ticks_expected=round(seconds / period),
        deadline_miss_rate=stats.deadline_misses / max(stats.ticks, 1),
        jitter_ms_max=float(np.max(np.abs(stats.lateness_s)) * 1e3) if stats.lateness_s else float("nan"),
        inference_ms_mean=float(np.mean(stats.inference_s) * 1e3) if stats.inference_s else float("nan"),
    )
    return summary


def parse_command(text: str) -> tuple[float, float, float]:
    """'vx,vy,yaw' -> a 3-tuple of floats."""
    vx, vy, yaw = (float(v) for v in text.split(","))
    return vx, vy, yaw


def print_report(latency: list[dict[str, Any]], loop: dict[str, Any]) -> None:
    """The latency table per provider, then the loop's timing."""
    print("\n| provider | used | p50 (ms) | p99 (ms) | mean (ms) | max (ms) |\n|---|---|---:|---:|---:|---:|")
    for r in latency:
        print(
            f"| {r['provider']} | {r['provider_used']} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | "
            f"{r['mean_ms']:.3f} | {r['max_ms']:.3f} |"
        )
    print(
        f"\nloop ({loop['provider']}, {loop['seconds']:g} s realtime at {loop['period_ms']:g} ms): "
        f"{loop['ticks']}/{loop['ticks_expected']} ticks, jitter p50 {loop['jitter_ms_p50']:.3f} ms "
        f"p99 {loop['jitter_ms_p99']:.3f} ms max {loop['jitter_ms_max']:.3f} ms, "
        f"{loop['deadline_misses']} deadline misses, inference p50 {loop['inference_ms_p50']:.3f} ms, "
        f"final mode {loop['final_mode']}"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure inference per provider and the realtime loop, print and record."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default=str(DEFAULT_POLICY), help="exported policy.onnx (default: %(default)s)")
    parser.add_argument("--calls", type=int, default=5000, help="timed inference calls per provider")
    parser.add_argument("--warmup", type=int, default=200, help="untimed inference calls first")
    parser.add_argument(
        "--seconds", "--loop-seconds", dest="loop_seconds", type=float, default=10.0, help="realtime loop, s"
    )
    parser.add_argument("--command", type=parse_command, default=(0.0, 0.0, 0.0), help="vx,vy,yaw for the loop")
    parser.add_argument("--out", default=None, help="results folder (default experiments/results)")
    args = parser.parse_args(argv)
    path = Path(args.policy)

    available = ort.get_available_providers()
    providers = [p for p in PROVIDER_ORDER if p in available]
    print(f"policy {path}; onnxruntime {ort.__version__} offers {available}; timing {providers}", flush=True)
    latency = [inference_latency(path, p, args.calls, args.warmup) for p in providers]
    loop = loop_timing(path, args.loop_seconds, args.command)
    print_report(latency, loop)
    meta = OnnxPolicy(path, verbose=False).meta
    rec = _record.record(
        f"benchmark_runner_{meta.robot}",
        {"inference": latency, "loop": loop},
        benchmark="runner",
        robot=meta.robot,
        policy=str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path),
        providers_available=available,
        runner_providers=choose_providers(),
        settings={"calls": args.calls, "warmup": args.warmup, "loop_seconds": args.loop_seconds},
    )
    print(f"recorded in {_record.write(rec, args.out)}")
    return rec


if __name__ == "__main__":
    main()
