"""Run an exported ONNX policy: ``python -m mjx_walker.run POLICY --backend mujoco --command -0.2,0,0``.

POLICY is the ONNX file, a policy directory or a run directory (its exported ``policy.onnx``).
"""

from __future__ import annotations

import argparse
import json
import sys

from mjx_walker.cli import ArgumentParser, user_error
from mjx_walker.onnx_meta import PolicyFileError
from mjx_walker.policy_paths import resolve_policy
from mjx_walker.policy_spec import SpecError
from mjx_walker.runner.backend import BackendError
from mjx_walker.runner.inference import PolicyMismatchError
from mjx_walker.runner.loop import BackendMismatchError
from mjx_walker.runner.safety import SafetyError
from mjx_walker.runner.session import BACKENDS, BackendUnavailableError, run_policy
from mjx_walker.runner.signals import exit_code


def parse_command(text: str) -> tuple[float, float, float]:
    """'vx,vy,yaw' -> (vx m/s, vy m/s, yaw rad/s)."""
    try:
        parts = [float(v) for v in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"--command needs three comma-separated numbers, got {text!r}")
    return parts[0], parts[1], parts[2]


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: run, then print the outcome and timing stats as JSON.

    Bad arguments or files (bad policy metadata included): one line on stderr, exit 2. Ctrl-C,
    SIGTERM or SIGHUP: the loop damps, one line, exit 128 + the signal's number (130, 143, 129).
    A malformed return from the backend: the loop damps, one line naming it, exit 1.
    """
    parser = ArgumentParser(prog="python -m mjx_walker.run", description=__doc__)
    parser.add_argument("policy", help="exported policy.onnx, or the policy or run directory holding it")
    parser.add_argument("--backend", default="mujoco", choices=BACKENDS)
    parser.add_argument(
        "--command", type=parse_command, default=(0.0, 0.0, 0.0), help="vx,vy,yaw (m/s, m/s, rad/s), e.g. -0.2,0,0"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=10.0,
        help="seconds (start-up ramp included; inf: until Ctrl-C, SIGTERM or SIGHUP)",
    )
    parser.add_argument("--realtime", action="store_true", help="run at the control period on the wall clock")
    parser.add_argument("--spec", default=None, metavar="TOML", help="policy spec of a policy trained elsewhere")
    robot = parser.add_argument_group("hardware backends (unitree_g1: pip install -e '.[unitree]')")
    robot.add_argument("--domain", type=int, default=None, help="DDS domain id of the robot's network (required)")
    robot.add_argument("--interface", default=None, help="network interface the robot is on, e.g. eth0 (required)")
    robot.add_argument("--real", action="store_true", help="allow domain 0: a real robot")
    robot.add_argument("--start", action="store_true", help="start the policy without waiting for the start button")
    args = parser.parse_args(argv)
    if args.backend != "mujoco" and (args.domain is None or args.interface is None):
        parser.error(f"--backend {args.backend} needs --domain and --interface (the robot's DDS network)")
    try:
        policy = resolve_policy(args.policy)
        if args.backend != "mujoco":
            return _deploy(policy, args)
        result = run_policy(policy, args.backend, args.command, args.duration, args.realtime, spec=args.spec)
    except (
        PolicyFileError,
        PolicyMismatchError,
        SpecError,
        BackendMismatchError,
        BackendUnavailableError,
        SafetyError,
    ) as err:
        return user_error(parser.prog, err)
    except BackendError as err:
        print(f"{parser.prog}: error: {err}; the motors were left damped", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM/SIGHUP as Terminated
        by = f" by {err}" if str(err) else ""
        print(f"{parser.prog}: interrupted{by}; the motors were left damped", file=sys.stderr)
        return exit_code(err)
    print(json.dumps(result.stats.summary(), indent=2))
    return 0


def _percentiles(seconds: list[float]) -> dict[str, float] | None:
    """p50 and p99 of ``seconds``, in ms (None if empty)."""
    import numpy as np

    if not seconds:
        return None
    return {"p50": float(np.percentile(seconds, 50) * 1e3), "p99": float(np.percentile(seconds, 99) * 1e3)}


def _deploy(policy_path: str, args: argparse.Namespace) -> int:
    """The deploy sequence on a hardware backend; the transitions and the loop's stats as JSON."""
    import numpy as np

    from mjx_walker.runner.deploy import deploy
    from mjx_walker.runner.inference import OnnxPolicy
    from mjx_walker.runner.session import make_hardware_backend

    policy = OnnxPolicy(policy_path, spec=args.spec)
    backend = make_hardware_backend(args.backend, policy.meta, args.domain, args.interface, args.real)
    try:
        result = deploy(backend, policy, policy.meta, np.asarray(args.command), args.duration, start_now=args.start)
    finally:
        backend.close()
    out = {
        "transitions": [{"t": t, "phase": p.value, "why": why} for t, p, why in result.transitions],
        "stats": result.stats.summary() if result.stats is not None else None,
        "commands_sent": getattr(backend, "sent", None),
        "state_to_command_ms": _percentiles(getattr(backend, "latency_s", [])),
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
