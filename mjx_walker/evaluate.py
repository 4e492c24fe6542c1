"""Sim-to-sim evaluation of exported ONNX policies through the runner, in MuJoCo C.

``python -m mjx_walker.evaluate policy.onnx [more.onnx ...] [--episodes N] [--shift F] [--lag-ms LIST]``

Every episode runs the deployment code path (``run_loop`` + safety layer + ONNX inference) on a
:class:`~mjx_walker.runner.mujoco_backend.MuJoCoBackend`. Its friction, masses, payload and
actuator gains are drawn from the training randomization envelope in the policy's metadata,
scaled by ``--shift`` about a centre (``--centre envelope``: the middle of the training ranges;
``nominal``: the robot's own model), unless pinned (``--friction 0.3``). It starts from the
standing pose with its own small joint offsets and base velocity (``--init-noise``), with sensor
noise as in training (``--noise-level``). Each ``--lag-ms`` value, or each value of ``--sweep``,
is one condition. Writes ``report.json`` and ``report.png`` per policy (and optionally an MP4).

A policy trained elsewhere (MuJoCo Playground, Isaac Lab) has no mjx_walker metadata: describe it
in a policy spec (:mod:`mjx_walker.policy_spec`) and pass ``--spec FILE``. Several policies are
compared on identical physics draws (the first policy's envelope and lags), condition by
condition, in ``comparison.png``/``comparison.json``.

A fall is training's termination (tilt beyond ``max_tilt_rad`` or base below
``min_height_fraction`` of standing height) or any safety trip; the episode ends there. The
measures are defined in :mod:`mjx_walker.evaluation.metrics`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mjx_walker.cli import ArgumentParser, float_list, missing_sim_module, sim_unavailable, user_error
from mjx_walker.evaluation.conditions import (
    CENTRES,
    ENVELOPE_KEYS,
    SWEEP_NAMES,
    EvaluationError,
    Sweep,
    condition_value,
    parse_sweep,
    scaled_envelope,
)
from mjx_walker.evaluation.metrics import DEFAULT_SETTLE_S, summarize
from mjx_walker.evaluation.plots import axis_name
from mjx_walker.evaluation.video import render_video
from mjx_walker.onnx_meta import PolicyFileError
from mjx_walker.policy_paths import resolve_policy
from mjx_walker.policy_spec import SpecError
from mjx_walker.runner.inference import PolicyMismatchError
from mjx_walker.runner.loop import BackendMismatchError
from mjx_walker.runner.safety import SafetyError

if TYPE_CHECKING:  # at run time these come from __getattr__ below, on first use
    from mjx_walker.evaluation.draws import sample_command
    from mjx_walker.evaluation.episode import Push, run_episode
    from mjx_walker.evaluation.report import default_lags_ms, evaluate_policies, evaluate_policy

# The library API, importable from here as before (notebooks, experiments): evaluate_policy, ...
__all__ = [
    "ENVELOPE_KEYS",
    "Push",
    "default_lags_ms",
    "evaluate_policies",
    "evaluate_policy",
    "main",
    "render_video",
    "run_episode",
    "sample_command",
    "scaled_envelope",
    "summarize",
]
# Those that need the simulator (mujoco), imported on first use: without it the CLI says what to install.
_LAZY = {
    "Push": "mjx_walker.evaluation.episode",
    "run_episode": "mjx_walker.evaluation.episode",
    "sample_command": "mjx_walker.evaluation.draws",
    "default_lags_ms": "mjx_walker.evaluation.report",
    "evaluate_policies": "mjx_walker.evaluation.report",
    "evaluate_policy": "mjx_walker.evaluation.report",
}


def __getattr__(name: str) -> Any:  # noqa: ANN401
    """The simulator-backed names of the library API, imported when first asked for."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mjx_walker.evaluate' has no attribute {name!r}")


EXAMPLES = """examples:
  python -m mjx_walker.evaluate policy.onnx --episodes 20 --shift 1.5 --lag-ms 0,10,20
  python -m mjx_walker.evaluate policy.onnx --centre nominal --shift 0 --friction 0.3 --no-noise
  python -m mjx_walker.evaluate policy.onnx --mass-scale 1.3 --payload-kg 3 --lag-ms 20
  python -m mjx_walker.evaluate a.onnx b.onnx --sweep lag_ms=0:100:20 --episodes 20 --out eval_lag

measures (report.json): no_fall_rate with no_fall_ci95 (95 % Wilson interval); over the steady
window (after --settle-s, survivors only) lin_speed_error_mean = |mean velocity - command| and
lin_vel_rms = per-tick RMS of |velocity - command|, m/s; the same for the yaw rate, rad/s."""


def _fmt(value: float | None, spec: str = ".3f") -> str:
    """A number, or '-' for None."""
    return "-" if value is None else format(value, spec)


def print_report(label: str, report: dict[str, Any]) -> None:
    """A readable table of one report: one row per condition."""
    about = ", ".join(f"{k} {v:g}" for k, v in report["centre_values"].items())
    pinned = ", ".join(f"{k}={v:g}" for k, v in report["pinned"].items()) or "none"
    print(f"\n{label}: {report['policy']} ({report['robot']}, {report['provider']})")
    print(
        f"  physics drawn from the training envelope x{report['shift']:g} about the {report['centre']} centre "
        f"({about}); pinned: {pinned}; sensor noise level {report['noise']['level']:g}; start perturbation "
        f"x{report['init_noise']:g}; seed {report['seed']}"
    )
    for key, (value, trained) in (report.get("outside_trained_box") or {}).items():
        print(f"  OUTSIDE THE TRAINED BOX: {key} = {value:g}, trained on [{trained[0]:g}, {trained[1]:g}]")
    name = axis_name(report)
    print(f"  tracking over the steady window (after {report['settle_s']:g} s), survivors only:")
    print(f"  {name:>10}  no-fall  rate [95% CI]       speed: err-of-mean  rms   yaw: err-of-mean  rms")
    for c in report["conditions"]:
        lo, hi = c["no_fall_ci95"]
        print(
            f"  {condition_value(c, name):>10g}  {c['survivors']:>3}/{c['episodes']:<3}  {c['no_fall_rate']:.2f} "
            f"[{lo:.2f}, {hi:.2f}]   {_fmt(c['lin_speed_error_mean']):>12}  {_fmt(c['lin_vel_rms']):>6}"
            f"   {_fmt(c['yaw_rate_error_mean']):>12}  {_fmt(c['yaw_rate_rms']):>6}"
        )
    lat = report["latency"]
    print(f"  inference p50 {_fmt(lat['inference_ms_p50'])} ms, p99 {_fmt(lat['inference_ms_p99'])} ms")
    for note in report["notes"]:
        print(f"  note: {note}")
    if "video" in report:
        print(f"  video: {report['video']}")


def _sweep_arg(text: str) -> Sweep:
    """The --sweep argument type: a bad grid becomes an argument error with its message."""
    try:
        return parse_sweep(text)
    except EvaluationError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> ArgumentParser:
    """The evaluate CLI's arguments."""
    parser = ArgumentParser(
        prog="python -m mjx_walker.evaluate",
        description=__doc__.split("\n")[0],
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "policy",
        nargs="+",
        help="exported policy.onnx, or the policy or run directory holding it (several: compared on one plot)",
    )
    parser.add_argument(
        "--spec",
        action="append",
        default=None,
        metavar="TOML",
        help="policy spec for an ONNX policy trained elsewhere (no mjx_walker metadata); one per such "
        "policy, in order (see mjx_walker.policy_spec)",
    )
    parser.add_argument("--episodes", type=int, metavar="N", default=10, help="episodes per condition (default 10)")
    parser.add_argument("--duration", type=float, metavar="S", default=10.0, help="episode seconds (default 10)")
    parser.add_argument(
        "--command",
        type=float_list,
        metavar="VX,VY,YAW",
        default=None,
        help="vx,vy,yaw (m/s, m/s, rad/s) for every episode, e.g. -0.2,0,0.3 (default: drawn)",
    )
    parser.add_argument(
        "--seed", type=int, metavar="N", default=0, help="episode i draws from (seed, i) in every condition"
    )
    parser.add_argument("--out", default="eval", metavar="DIR", help="output directory (default eval)")
    parser.add_argument(
        "--video",
        default=None,
        metavar="MP4",
        help="MP4 of the first episode: the robot's meshes, a camera following it, command and measured speed",
    )
    cond = parser.add_argument_group("conditions")
    cond.add_argument(
        "--lag-ms", type=float_list, metavar="MS,...", default=None, help="one condition per lag, e.g. 0,10,20"
    )
    cond.add_argument(
        "--shift", type=float, metavar="F", default=1.0, help="envelope scale about the centre (1 = training)"
    )
    cond.add_argument(
        "--centre",
        choices=CENTRES,
        default="envelope",
        help="what --shift scales about, i.e. what shift 0 means: the training ranges' midpoints (envelope, "
        "default) or the robot's nominal model (nominal: scene friction, mass x1, no payload, gains x1)",
    )
    for key, what in (
        ("friction", "foot-floor friction"),
        ("mass-scale", "link mass and inertia scale"),
        ("payload-kg", "mass added at the torso (kg)"),
        ("kp-scale", "actuator stiffness scale"),
        ("kd-scale", "actuator damping scale"),
    ):
        cond.add_argument(
            f"--{key}", type=float, default=None, metavar="X", help=f"pin the {what} (overrides the draw)"
        )
    cond.add_argument(
        "--noise-level", type=float, metavar="F", default=1.0, help="sensor noise x training's (default 1)"
    )
    cond.add_argument("--no-noise", action="store_true", help="no sensor noise (same as --noise-level 0)")
    cond.add_argument(
        "--init-noise",
        type=float,
        metavar="F",
        default=1.0,
        help="start perturbation scale: joints U(+-0.05 rad), base U(+-0.2)",
    )
    cond.add_argument("--push-mps", type=float, metavar="V", default=0.0, help="one horizontal push of this size (m/s)")
    cond.add_argument(
        "--outside-box",
        action="store_true",
        help="run a --command outside the policy's trained box (generalisation; the report marks it)",
    )
    cond.add_argument(
        "--backlash-deg",
        type=float,
        metavar="DEG",
        default=0.0,
        help="gear play of every joint: the PD target acts only beyond +-DEG (training's randomization.backlash_rad)",
    )
    cond.add_argument(
        "--gyro-bias", type=float, metavar="RADS", default=0.0, help="rad/s added to every gyro axis (an IMU bias)"
    )
    cond.add_argument(
        "--imu-tilt-deg", type=float, metavar="DEG", default=0.0, help="IMU mounting error, in roll and in pitch"
    )
    cond.add_argument(
        "--terrain",
        default="flat",
        metavar="KIND",
        help="the ground: flat (default), rough:H, steps:H or step:H with H in m (e.g. rough:0.03; mjx_walker.terrain)",
    )
    cond.add_argument("--push-time-s", type=float, metavar="S", default=3.0, help="when the push comes (default 3 s)")
    cond.add_argument(
        "--sweep",
        type=_sweep_arg,
        default=None,
        metavar="NAME=START:STOP:STEP",
        help=f"one condition per grid value (stop included) of NAME in {', '.join(SWEEP_NAMES)}; "
        "physics values are pinned, other sweeps run at one lag (default: the training midpoint)",
    )
    parser.add_argument(
        "--settle-s",
        type=float,
        metavar="S",
        default=DEFAULT_SETTLE_S,
        help="tracking is measured after this many seconds (default 2)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: evaluate, print a table per policy; bad files or arguments exit 2.

    Without the simulator installed: one line naming the extra that brings it, exit 2.
    """
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)  # policies and their --spec in any order
    pinned = {k: getattr(args, k) for k in ENVELOPE_KEYS if getattr(args, k) is not None}  # --friction ...
    try:
        from mjx_walker.evaluation.report import evaluate_policies

        reports = evaluate_policies(
            [resolve_policy(p) for p in args.policy],
            args.out,
            video=args.video,
            specs=args.spec,
            episodes=args.episodes,
            shift=args.shift,
            lag_ms=args.lag_ms,
            duration=args.duration,
            command=args.command,
            seed=args.seed,
            noise_level=0.0 if args.no_noise else args.noise_level,
            centre=args.centre,
            pinned=pinned,
            settle_s=args.settle_s,
            init_noise=args.init_noise,
            push_mps=args.push_mps,
            push_time_s=args.push_time_s,
            sweep=args.sweep,
            verbose=False,
            backlash_deg=args.backlash_deg,
            outside_box=args.outside_box,
            gyro_bias=args.gyro_bias,
            imu_tilt_deg=args.imu_tilt_deg,
            terrain=args.terrain,
        )
    except (PolicyFileError, PolicyMismatchError, EvaluationError, SpecError, BackendMismatchError, SafetyError) as err:
        return user_error(parser.prog, err)
    except ImportError as err:
        module = missing_sim_module(err)
        if module is None:
            raise
        return sim_unavailable(parser.prog, module)
    for label, report in reports.items():
        print_report(label, report)
    written = "report.json and report.png" if len(reports) == 1 else "<policy>/report.*, comparison.png/json"
    print(f"\nwrote {Path(args.out)}/{written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
