"""Experiment: does the ``gpu`` preset's batch shape learn the recipe, proved on a CPU?

    python experiments/gpu_shape_proof.py                                   # both arms, ~30 min on 2 cores
    python experiments/gpu_shape_proof.py --reference runs/recipe-seed0    # reuse a cpu-preset run as the reference

The ``gpu`` preset's first stage is the walking recipe with MuJoCo Playground's GPU shape: batch
256 x 32 minibatches x unroll 20 = 163,840 env steps and 128 gradient steps per round (4 updates
per batch), on 8192 envs. Two cores cannot step 8192 envs, but the shape's learning does not
depend on the env count: Brax collects each round's 163,840 env steps as unrolls of ``num_envs``
envs, so ``--envs 256`` gives the same rounds, minibatches and gradient steps per env step, from
fewer, longer-running envs. This arm runs on MuJoCo C physics (the CPU's fast path; the GPU runs
the same scene on MJX).

The reference is the ``cpu`` preset's first stage (64 envs, 20,480 env steps and 64 gradient steps
per round: 4x the GPU shape's gradient steps per env step), for the same env steps and seed, trained
here or read from ``--reference RUN`` (a ``cpu``-preset run; its ``main`` stage). Both arms' evals
(episode length, reward, velocity-tracking reward) are printed side by side at equal env steps, and
each arm's final checkpoint is exported and evaluated in MuJoCo C: forward 0.5 m/s, 10 episodes of
10 s at 0 ms lag (speed error and falls). One record under ``experiments/results/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import _record

from mjx_walker import run_dir as rd
from mjx_walker.presets import get_preset

CURVE_KEYS = ("episode_length", "episode_reward", "reward/tracking_lin_vel")


def gpu_arm(robot: str, envs: int, steps: int, seed: int) -> tuple[Any, Any]:
    """The gpu preset's first stage on MuJoCo C with ``envs`` envs, cut to about ``steps`` env steps.

    Evals every 6 rounds (983,040 env steps), close to the cpu preset's every 1,003,520.
    """
    env, ppo = get_preset(robot, "gpu")
    env = dataclasses.replace(env, sim=dataclasses.replace(env.sim, backend="mujoco"))
    per_eval = 6 * ppo.unroll_length * ppo.batch_size * ppo.num_minibatches
    evals = max(1, round(steps / per_eval))
    ppo = ppo.replace(num_envs=envs, num_eval_envs=32, num_timesteps=evals * per_eval, num_evals=evals + 1, seed=seed)
    return env, ppo


def cpu_arm(robot: str, steps: int, seed: int) -> tuple[Any, Any]:
    """The cpu preset's first stage cut to about ``steps`` env steps, an eval every 49 rounds as in the preset."""
    env, ppo = get_preset(robot, "cpu")
    per_eval = ppo.num_timesteps // (ppo.num_evals - 1)
    evals = max(1, round(steps / per_eval))
    return env, ppo.replace(num_timesteps=evals * per_eval, num_evals=evals + 1, seed=seed)


def curve(run: Path, last_step: int) -> list[dict[str, float]]:
    """The run's eval rows up to ``last_step`` env steps: env steps and :data:`CURVE_KEYS`."""
    rows = [r for r in rd.read_metrics(run) if r["env_steps"] <= last_step]
    return [{"env_steps": r["env_steps"], **{k: r.get(k) for k in CURVE_KEYS}} for r in rows]


def forward_check(checkpoint: Path, out: Path) -> dict[str, Any]:
    """Export ``checkpoint`` and evaluate it in MuJoCo C at forward 0.5 m/s, 10 episodes of 10 s, 0 ms lag."""
    from mjx_walker.evaluate import evaluate_policy

    onnx = out / "policy.onnx"
    subprocess.run([sys.executable, "-m", "mjx_walker.export", str(checkpoint), "--out", str(onnx)], check=True)
    report = evaluate_policy(onnx, out / "eval", command=[0.5, 0.0, 0.0], episodes=10, lag_ms=[0.0], duration=10.0)
    cond = report["conditions"][0]
    return {"no_fall_rate": cond["no_fall_rate"], "lin_speed_error_mean": cond["lin_speed_error_mean"]}


def latest_checkpoint(run: Path, last_step: int) -> Path:
    """The run's newest checkpoint at or before ``last_step`` env steps."""
    steps = sorted(
        int(p.name) for p in (run / "checkpoints").iterdir() if p.name.isdigit() and int(p.name) <= last_step
    )
    return run / "checkpoints" / f"{steps[-1]:012d}"


def print_side_by_side(gpu: list[dict[str, float]], cpu: list[dict[str, float]]) -> None:
    """Each gpu-shape eval next to the cpu preset's eval nearest in env steps."""
    print(f"{'env steps (gpu / cpu)':>24} | {'length gpu / cpu':>17} | {'reward gpu / cpu':>17} | tracking_lin_vel")
    for g in gpu:
        c = min(cpu, key=lambda r: abs(r["env_steps"] - g["env_steps"]))
        print(
            f"{g['env_steps']:>11,} / {c['env_steps']:>10,} | "
            f"{g['episode_length']:>7.0f} / {c['episode_length']:>7.0f} | "
            f"{g['episode_reward']:>7.1f} / {c['episode_reward']:>7.1f} | "
            f"{g['reward/tracking_lin_vel']:.3f} / {c['reward/tracking_lin_vel']:.3f}"
        )


def main() -> dict[str, Any]:
    """Train the arms, compare them, record."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--robot", default="berkeley_humanoid")
    ap.add_argument("--steps", type=int, default=5_000_000, help="env steps per arm (rounded to whole evals)")
    ap.add_argument("--envs", type=int, default=256, help="envs of the gpu-shape arm (divides 256 x 32)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reference", type=Path, help="a cpu-preset run to read the reference from instead of training it")
    ap.add_argument("--out", type=Path, help="where the runs go (default: a temporary folder)")
    args = ap.parse_args()
    from mjx_walker.training import train

    root = args.out or Path(tempfile.mkdtemp(prefix="gpu_shape_proof_"))
    g_env, g_ppo = gpu_arm(args.robot, args.envs, args.steps, args.seed)
    train(g_env, g_ppo, run_dir=root / "gpu_shape")
    if args.reference is None:
        c_env, c_ppo = cpu_arm(args.robot, args.steps, args.seed)
        train(c_env, c_ppo, run_dir=root / "cpu")
        ref = root / "cpu"
    else:
        ref = args.reference / "main" if (args.reference / "main").is_dir() else args.reference
    last = int(g_ppo.num_timesteps * 1.05)  # the reference's eval nearest the gpu arm's end counts
    gpu_rows, cpu_rows = curve(root / "gpu_shape", last), curve(ref, last)
    print_side_by_side(gpu_rows, cpu_rows)
    checks = {
        "gpu_shape": forward_check(latest_checkpoint(root / "gpu_shape", last), root / "gpu_shape_eval"),
        "cpu": forward_check(latest_checkpoint(ref, last), root / "cpu_eval"),
    }
    for arm, c in checks.items():
        print(
            f"{arm:>9}: forward 0.5 m/s, 10 episodes: no-fall {c['no_fall_rate']:.2f}, "
            f"speed error {c['lin_speed_error_mean']:.3f} m/s"
        )
    rec = _record.record(
        f"gpu_shape_proof_{args.robot}",
        {
            "gpu_shape": {"curve": gpu_rows, "forward": checks["gpu_shape"]},
            "cpu": {"curve": cpu_rows, "forward": checks["cpu"]},
        },
        experiment="gpu_shape_proof",
        robot=args.robot,
        envs=args.envs,
        seed=args.seed,
        reference=str(args.reference) if args.reference else "trained in this run",
        gpu_shape_ppo=dataclasses.asdict(g_ppo),
    )
    print(f"recorded in {_record.write(rec)}")
    return rec


if __name__ == "__main__":
    main()
