"""Sim-to-sim evaluation of an exported ONNX policy through the runner, in MuJoCo C.

``python -m mjx_walker.evaluate policy.onnx [--episodes N] [--shift FACTOR] [--lag-ms LIST]``

Every episode runs the deployment code path (``run_loop`` + safety layer + ONNX inference) on a
:class:`~mjx_walker.runner.mujoco_backend.MuJoCoBackend` whose friction, masses, payload and
actuator gains are drawn from the training randomization envelope in the policy's metadata,
widened (or narrowed) about its centre by ``--shift`` (1 = the training envelope), with sensor
noise as in training. Each ``--lag-ms`` value is one condition (default: the training lag range's
ends and midpoint). Writes ``report.json`` and ``report.png`` (and optionally an MP4).

A fall is training's termination (tilt beyond ``max_tilt_rad`` or base below
``min_height_fraction`` of standing height) or any safety trip; the episode ends there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mjx_walker.onnx_meta import PolicyMeta
from mjx_walker.runner.inference import OnnxPolicy
from mjx_walker.runner.loop import Tick, run_loop
from mjx_walker.runner.mujoco_backend import MuJoCoBackend, SimShift
from mjx_walker.runner.safety import Mode, SafetyConfig
from mjx_walker.runner.session import sim_config

ENVELOPE_KEYS = ("friction", "mass_scale", "payload_kg", "kp_scale", "kd_scale")
_FLOORS = {"friction": 0.05, "mass_scale": 0.1, "kp_scale": 0.1, "kd_scale": 0.0}


def scaled_envelope(randomization: dict[str, Any], factor: float) -> dict[str, list[float]]:
    """Training ranges widened by ``factor`` about their centres (kept physically valid)."""
    out = {}
    for key in ENVELOPE_KEYS:
        lo, hi = (float(v) for v in randomization[key])
        mid, half = (lo + hi) / 2, (hi - lo) / 2 * factor
        floor = _FLOORS.get(key, -np.inf)
        out[key] = [max(mid - half, floor), max(mid + half, floor)]
    return out


def default_lags_ms(meta: PolicyMeta) -> list[float]:
    """Training lag range in ms: low, midpoint, high (deduplicated)."""
    lo, hi = meta.randomization["lag_substeps"]
    values = sorted({lo, (lo + hi) // 2, hi})
    return [v * meta.sim_dt * 1e3 for v in values]


def sample_command(meta: PolicyMeta, rng: np.random.Generator) -> list[float]:
    """A command [vx, vy, yaw] uniform in the metadata's command ranges."""
    r = meta.command_ranges
    return [float(rng.uniform(*r[k])) for k in ("lin_vel_x", "lin_vel_y", "yaw_rate")]


def run_episode(
    policy: OnnxPolicy,
    shift: SimShift,
    command: list[float],
    duration: float,
    record_qpos: bool = False,
) -> dict[str, Any]:
    """One episode on a shifted MuJoCo backend; returns its outcome, errors and latencies."""
    meta = policy.meta
    backend = MuJoCoBackend(meta.robot, shift=shift, sim=sim_config(meta))
    lin_err: list[float] = []
    yaw_err: list[float] = []
    qpos: list[np.ndarray] = []
    fell_at: list[float] = []
    cmd = np.asarray(command)

    def observe(tick: Tick) -> bool:
        """Collect tracking errors; end the episode on a fall."""
        if record_qpos:
            qpos.append(backend.data.qpos.copy())
        if backend.fallen(meta.min_height_fraction, meta.max_tilt_rad):
            fell_at.append(tick.time)
            return True
        if tick.mode == Mode.POLICY and tick.action is not None:
            v = backend.base_linvel()
            lin_err.append(float(np.linalg.norm(cmd[:2] - v[:2])))
            yaw_err.append(abs(float(cmd[2]) - backend.base_yaw_rate()))
        return False

    safety = SafetyConfig(max_tilt_rad=meta.max_tilt_rad, ramp_duration_s=0.0)
    stats = run_loop(backend, policy, meta, cmd, duration, safety, observe, policy.provider)
    tripped = stats.final_mode in (Mode.DAMPING.value, Mode.STOPPED.value)
    fell = bool(fell_at) or tripped
    return {
        "command": [float(c) for c in command],
        "fell": fell,
        "fall_time_s": (fell_at[0] if fell_at else stats.ticks * meta.ctrl_dt) if fell else None,
        "ticks": stats.ticks,
        "policy_ticks": stats.policy_ticks,
        "lin_vel_error": float(np.mean(lin_err)) if lin_err else None,
        "yaw_rate_error": float(np.mean(yaw_err)) if yaw_err else None,
        "trip_reason": stats.trip_reason,
        "inference_s": stats.inference_s,
        "qpos": qpos,
    }


def _mean(values: list[float | None]) -> float | None:
    """Mean of the non-None values (None if there are none)."""
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def summarize(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """No-fall rate and mean tracking errors of a group of episodes."""
    n = len(episodes)
    falls = sum(e["fell"] for e in episodes)
    return {
        "episodes": n,
        "falls": falls,
        "no_fall_rate": (n - falls) / n if n else None,
        "lin_vel_error": _mean([e["lin_vel_error"] for e in episodes]),
        "yaw_rate_error": _mean([e["yaw_rate_error"] for e in episodes]),
    }


def evaluate_policy(
    policy_path: str | os.PathLike,
    out_dir: str | os.PathLike = "eval",
    episodes: int = 10,
    shift: float = 1.0,
    lag_ms: list[float] | None = None,
    duration: float = 10.0,
    command: list[float] | None = None,
    seed: int = 0,
    video: str | os.PathLike | None = None,
    noise_level: float = 1.0,
    randomization: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``episodes`` per lag condition; write report.json and report.png; return the report.

    ``randomization`` (a ``RandomizationConfig`` as a dict) replaces the policy's own training
    envelope as the one ``shift`` scales: to compare policies trained with different envelopes
    (one with none at all) under the same shifted dynamics.
    """
    policy = OnnxPolicy(policy_path)
    meta = policy.meta
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    envelope = scaled_envelope(meta.randomization if randomization is None else randomization, shift)
    lags = default_lags_ms(meta) if lag_ms is None else [float(v) for v in lag_ms]
    noise = {k: float(meta.noise[k]) for k in ("gyro", "gravity", "joint_pos", "joint_vel")}
    noise["level"] = float(meta.noise["level"]) * noise_level
    rows: list[dict[str, Any]] = []
    latencies: list[float] = []
    first_qpos: list[np.ndarray] = []
    for ms in lags:
        substeps = int(round(ms * 1e-3 / meta.sim_dt))
        for _ in range(episodes):
            draw = {k: float(rng.uniform(*envelope[k])) for k in ENVELOPE_KEYS}
            sim_shift = SimShift(**draw, lag_substeps=substeps, noise=noise, seed=int(rng.integers(2**31)))
            cmd = list(command) if command is not None else sample_command(meta, rng)
            ep = run_episode(policy, sim_shift, cmd, duration, record_qpos=video is not None and not rows)
            latencies += ep.pop("inference_s")
            first_qpos = first_qpos or ep["qpos"]
            del ep["qpos"]
            rows.append({"lag_ms": substeps * meta.sim_dt * 1e3, "lag_substeps": substeps, **draw, **ep})
    conditions = []
    for ms in sorted({r["lag_ms"] for r in rows}):
        conditions.append({"lag_ms": ms, **summarize([r for r in rows if r["lag_ms"] == ms])})
    report = {
        "policy": str(policy_path),
        "robot": meta.robot,
        "config_digest": meta.config_digest,
        "provider": policy.provider,
        "shift": shift,
        "duration_s": duration,
        "episodes_per_condition": episodes,
        "seed": seed,
        "noise": noise,
        "envelope": envelope,
        "overall": summarize(rows),
        "conditions": conditions,
        "latency": {
            "calls": len(latencies),
            "inference_ms_p50": float(np.percentile(latencies, 50) * 1e3) if latencies else None,
            "inference_ms_p99": float(np.percentile(latencies, 99) * 1e3) if latencies else None,
        },
        "episodes": rows,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    plot_report(report, out / "report.png", latencies)
    if video is not None:
        report["video"] = render_video(meta, first_qpos, Path(video))
        (out / "report.json").write_text(json.dumps(report, indent=2))
    return report


def plot_report(report: dict[str, Any], path: Path, latencies: list[float]) -> None:
    """PNG: no-fall rate and tracking error per lag condition, and the inference latency histogram."""
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend (e.g. a notebook's) alone

    conds = report["conditions"]
    labels = [f"{c['lag_ms']:.0f} ms" for c in conds]
    fig = Figure(figsize=(13, 3.8))
    axes = fig.subplots(1, 3)
    axes[0].bar(labels, [c["no_fall_rate"] for c in conds], color="tab:green")
    axes[0].set(ylim=(0, 1.05), title="no-fall rate", xlabel="actuation lag")
    x = np.arange(len(conds))
    lin = [c["lin_vel_error"] or 0.0 for c in conds]
    yaw = [c["yaw_rate_error"] or 0.0 for c in conds]
    axes[1].bar(x - 0.2, lin, 0.4, label="|v_xy - cmd| m/s")
    axes[1].bar(x + 0.2, yaw, 0.4, label="|yaw - cmd| rad/s")
    axes[1].set_xticks(x, labels)
    axes[1].set(title="tracking error (until fall)", xlabel="actuation lag")
    axes[1].legend(fontsize=8)
    axes[2].hist(np.asarray(latencies) * 1e3, bins=40, color="tab:gray")
    lat = report["latency"]
    axes[2].set(title=f"inference ({report['provider']}) p50 {lat['inference_ms_p50'] or 0:.3f} ms", xlabel="ms")
    fig.suptitle(
        f"{report['robot']}  shift x{report['shift']}  overall no-fall {report['overall']['no_fall_rate']:.2f}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def render_video(meta: PolicyMeta, qpos: list[np.ndarray], path: Path) -> str:
    """Render qpos frames to MP4 in a subprocess trying MUJOCO_GL=egl then osmesa; a status line."""
    if not qpos:
        return "no frames recorded"
    with tempfile.TemporaryDirectory() as tmp:
        frames = Path(tmp) / "qpos.npz"
        np.savez(frames, qpos=np.asarray(qpos), robot=meta.robot, fps=1.0 / meta.ctrl_dt)
        errors = []
        backends = [os.environ["MUJOCO_GL"]] if os.environ.get("MUJOCO_GL") else ["egl", "osmesa"]
        for gl in backends:
            cmd = [sys.executable, "-m", "mjx_walker.runner.render", str(frames), str(path)]
            proc = subprocess.run(cmd, env={**os.environ, "MUJOCO_GL": gl}, capture_output=True, text=True)
            if proc.returncode == 0:
                return f"wrote {path} with MUJOCO_GL={gl}"
            errors.append(f"{gl}: {(proc.stderr.strip().splitlines() or ['failed'])[-1]}")
    message = (
        "no video: rendering failed for every MUJOCO_GL backend tried ("
        + "; ".join(errors)
        + "); MP4 needs an OpenGL backend (EGL or OSMesa) and ffmpeg"
    )
    print(message, file=sys.stderr)
    return message


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m mjx_walker.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("policy", help="exported policy.onnx")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per lag condition")
    parser.add_argument("--shift", type=float, default=1.0, help="envelope width factor (1 = training)")
    parser.add_argument("--lag-ms", type=lambda s: [float(v) for v in s.split(",")], default=None, help="e.g. 0,10,20")
    parser.add_argument("--duration", type=float, default=10.0, help="episode seconds")
    parser.add_argument("--command", type=lambda s: [float(v) for v in s.split(",")], default=None, help="vx,vy,yaw")
    parser.add_argument("--out", default="eval", help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--video", default=None, help="MP4 path for the first episode")
    args = parser.parse_args(argv)
    report = evaluate_policy(
        args.policy,
        args.out,
        args.episodes,
        args.shift,
        args.lag_ms,
        args.duration,
        args.command,
        args.seed,
        args.video,
    )
    print(json.dumps({k: report[k] for k in ("overall", "conditions", "latency")}, indent=2))
    print(f"wrote {Path(args.out) / 'report.json'} and report.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
