"""Experiment: does domain randomization bridge the sim-to-real gap? Randomization on vs off.

    python experiments/dr_ablation.py                       # cpu preset: about 2 h per arm on 2 cores
    python experiments/dr_ablation.py --set ppo.num_timesteps=1000000   # a shorter budget per arm
    python experiments/dr_ablation.py --preset gpu          # the real one, on a GPU

Trains the same preset twice with the same budget, seed, commands, pushes and sensor noise:
``randomized`` keeps the preset's ``RandomizationConfig`` (friction, masses, payload, COM, gains,
joint properties, actuator lag); ``nominal`` collapses every range to the nominal model
(``RandomizationConfig.nominal()``). Both are exported to ONNX and evaluated by
``mjx_walker.evaluate`` (the deployment runner in MuJoCo C) under the *same* shifted dynamics:
at shift ``s`` the randomized arm's training envelope is scaled by ``s`` about its centre
(``s = 0``: the centre values, ``s = 1``: the training envelope, ``s > 1``: beyond it) and the
actuation lag is ``s`` times the training range's upper end. Both arms see identical draws
(same seed). Prints a table of no-fall rate and tracking error per shift and arm, writes a JSON
record and a plot to experiments/results/. A killed run resumes: training continues from its
checkpoints and finished arms are not retrained.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import _record

ARMS = ("randomized", "nominal")


def arm_configs(robot: str, preset: str, arm: str, overrides: list[str]) -> tuple[Any, Any]:
    """The (env, ppo) configs of one arm: the preset, with randomization collapsed for ``nominal``."""
    from mjx_walker.configs import RandomizationConfig
    from mjx_walker.presets import apply_overrides, get_preset

    env_cfg, ppo_cfg = apply_overrides(*get_preset(robot, preset), overrides)
    if arm == "nominal":
        env_cfg = dataclasses.replace(env_cfg, randomization=RandomizationConfig.nominal())
    return env_cfg, ppo_cfg


def train_arm(run: Path, env_cfg: Any, ppo_cfg: Any) -> dict[str, Any]:
    """Train (or resume, or reuse) one arm in ``run``; returns its training summary."""
    from mjx_walker.training import train

    start = time.monotonic()
    resume = (run / "config.json").exists()
    result = train(env_cfg, ppo_cfg, run, resume=resume, show_progress=True)
    rows = result.metrics
    return {
        "run_dir": str(run),
        "env_steps": result.env_steps,
        "wall_s_this_process": round(time.monotonic() - start, 1),
        "wall_s_recorded": rows[-1]["wall_time"] if rows else None,
        "episode_length_first": rows[0]["episode_length"] if rows else None,
        "episode_length_final": rows[-1]["episode_length"] if rows else None,
        "episode_reward_final": rows[-1]["episode_reward"] if rows else None,
    }


def evaluate_arm(
    onnx: Path, out: Path, shifts: list[float], envelope: dict[str, Any], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Evaluate one exported policy at each shift; one summary row per shift."""
    from mjx_walker.evaluate import evaluate_policy
    from mjx_walker.onnx_meta import read_meta

    meta = read_meta(str(onnx))
    max_lag_ms = envelope["lag_substeps"][1] * meta.sim_dt * 1e3
    rows = []
    for s in shifts:
        lag_ms = s * max_lag_ms
        report = evaluate_policy(
            onnx,
            out / f"shift_{s:g}",
            episodes=args.episodes,
            shift=s,
            lag_ms=[lag_ms],
            duration=args.duration,
            seed=args.seed,
            randomization=envelope,
        )
        overall = report["overall"]
        rows.append(
            {
                "shift": s,
                "lag_ms": report["conditions"][0]["lag_ms"],
                "envelope": report["envelope"],
                "episodes": overall["episodes"],
                "no_fall_rate": overall["no_fall_rate"],
                "lin_vel_error": overall["lin_vel_error"],
                "yaw_rate_error": overall["yaw_rate_error"],
                "mean_fall_time_s": _mean_fall_time(report["episodes"]),
            }
        )
    return rows


def _mean_fall_time(episodes: list[dict[str, Any]]) -> float | None:
    """Mean time to fall over the episodes that fell (None if none fell)."""
    times = [e["fall_time_s"] for e in episodes if e["fell"]]
    return sum(times) / len(times) if times else None


def wilson95(rate: float, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial rate observed over ``n`` episodes."""
    z = 1.96
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * (rate * (1 - rate) / n + z * z / (4 * n * n)) ** 0.5
    return max(centre - half, 0.0), min(centre + half, 1.0)


def _rate(row: dict[str, Any]) -> str:
    """No-fall rate with its 95 % interval, e.g. '0.62 [0.50, 0.73]'."""
    lo, hi = wilson95(row["no_fall_rate"], row["episodes"])
    return f"{row['no_fall_rate']:.2f} [{lo:.2f}, {hi:.2f}]"


def _fmt(value: float | None, spec: str) -> str:
    """Format a number, or '-' for None."""
    return "-" if value is None else format(value, spec)


def shift_table(results: dict[str, list[dict[str, Any]]]) -> str:
    """The shift table as markdown: no-fall rate (95 % interval) and velocity error (m/s) per shift and arm."""
    lines = [
        "| shift | lag (ms) | no-fall, randomized | no-fall, nominal | vel. error, randomized | vel. error, nominal |",
        "|---|---|---|---|---|---|",
    ]
    for r, n in zip(results["randomized"], results["nominal"], strict=True):
        cells = [f"{r['shift']:g}", f"{r['lag_ms']:.0f}", _rate(r), _rate(n)]
        cells += [_fmt(r["lin_vel_error"], ".3f"), _fmt(n["lin_vel_error"], ".3f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: dict[str, list[dict[str, Any]]], path: Path, title: str) -> None:
    """No-fall rate and tracking error against the shift, one line per arm."""
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend (e.g. a notebook's) alone

    fig = Figure(figsize=(11, 3.8))
    axes = fig.subplots(1, 2)
    for arm, rows in results.items():
        xs = [r["shift"] for r in rows]
        rates = [r["no_fall_rate"] for r in rows]
        ci = [wilson95(r["no_fall_rate"], r["episodes"]) for r in rows]
        err = [
            [v - lo for v, (lo, _) in zip(rates, ci, strict=True)],
            [hi - v for v, (_, hi) in zip(rates, ci, strict=True)],
        ]
        axes[0].errorbar(xs, rates, yerr=err, fmt="o-", capsize=3, label=arm)
        axes[1].plot(xs, [r["lin_vel_error"] if r["lin_vel_error"] is not None else float("nan") for r in rows], "o-")
    lag = ", ".join(f"{r['lag_ms']:.0f}" for r in results["randomized"])
    axes[0].set(
        ylim=(-0.05, 1.05), title="no-fall rate (95 % interval)", xlabel=f"shift (x training envelope; lag {lag} ms)"
    )
    axes[1].set(title="|v_xy - command| until fall (m/s)", xlabel="shift")
    axes[1].set_ylim(bottom=0.0)  # from zero: a policy that does not walk has an error near the command's size
    axes[0].legend(title="trained with")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    """Train both arms, export, evaluate under shifts, print and record the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", default="berkeley_humanoid")
    parser.add_argument("--preset", default="cpu", help="training preset of both arms (cpu, gpu, test)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    parser.add_argument("--shifts", type=float, nargs="+", default=[0.0, 1.0, 2.0, 3.0, 4.0])
    parser.add_argument("--episodes", type=int, default=64, help="evaluation episodes per shift and arm")
    parser.add_argument("--duration", type=float, default=10.0, help="evaluation episode seconds")
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed (same draws for both arms)")
    parser.add_argument("--work", default="runs/dr_ablation", help="run directories of both arms")
    parser.add_argument("--out", default=None, help="results folder (default experiments/results)")
    parser.add_argument("--host-devices", type=int, default=None, help="CPU: XLA host devices (default: all cores)")
    parser.add_argument("--replot", default=None, metavar="RECORD", help="only redraw table and plot of a record")
    args = parser.parse_args()
    if args.replot:
        rec = json.loads(Path(args.replot).read_text())
        print(shift_table(rec["results"]["policies"]))
        png = Path(args.replot).with_suffix(".png")
        plot(
            rec["results"]["policies"],
            png,
            f"{rec['robot']}, preset {rec['preset']}: randomization on vs off, same budget",
        )
        print(f"redrew {png}")
        return

    from mjx_walker.training import _setup_jax

    # before JAX starts: host devices (a count that cannot hang this batch) and the compile cache
    _setup_jax(args.host_devices, arm_configs(args.robot, args.preset, "randomized", args.overrides)[1])
    from mjx_walker.configs import to_dict
    from mjx_walker.export import export_policy

    work = Path(args.work).resolve() / f"{args.robot}-{args.preset}"
    envelope = to_dict(arm_configs(args.robot, args.preset, "randomized", args.overrides)[0].randomization)
    training, results = {}, {}
    for arm in ARMS:
        env_cfg, ppo_cfg = arm_configs(args.robot, args.preset, arm, args.overrides)
        print(f"== {arm}: training {ppo_cfg.total_env_steps} env steps in {work / arm}", file=sys.stderr)
        training[arm] = train_arm(work / arm, env_cfg, ppo_cfg)
        onnx = work / arm / "policy.onnx"
        export_policy(work / arm, onnx)
        print(f"== {arm}: evaluating {onnx} at shifts {args.shifts}", file=sys.stderr)
        results[arm] = evaluate_arm(onnx, work / arm / "eval", args.shifts, envelope, args)
    table = shift_table(results)
    print(table)
    rec = _record.record(
        "dr_ablation",
        {"policies": results, "training": training, "table": table},
        robot=args.robot,
        preset=args.preset,
        overrides=args.overrides,
        episodes_per_shift=args.episodes,
        episode_s=args.duration,
        eval_seed=args.seed,
        training_envelope=envelope,
    )
    path = _record.write(rec, args.out)
    png = path.with_suffix(".png")
    plot(results, png, f"{args.robot}, preset {args.preset}: randomization on vs off, same budget")
    print(f"recorded in {path} and {png}")


if __name__ == "__main__":
    main()
