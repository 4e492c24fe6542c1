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
    args = parser.parse_args(argv)
    try:
        policy = resolve_policy(args.policy)
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


if __name__ == "__main__":
    sys.exit(main())
