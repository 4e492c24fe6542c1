"""Experiment: a policy trained elsewhere (MuJoCo Playground's Berkeley Humanoid) through our evaluate.

    python experiments/byo_policy.py PATH/bh_policy.onnx [--spec models/specs/playground_berkeley_humanoid.toml]

Get the ONNX file from google-deepmind/mujoco_playground
(``mujoco_playground/experimental/sim2sim/onnx/bh_policy.onnx``); it is not in this repository.
Three evaluations, 10 episodes of 10 s per condition, recorded in ``experiments/results/``:

1. ``alone``: the claim of Playground's own sim-to-sim script, under ``evaluate``: the robot's
   nominal model (no shift), no lag, no sensor noise, a forward 0.5 m/s command. Walks when
   nothing falls and the speed error of the mean is at most 0.15 m/s.
2. ``forward`` and 3. ``random``: side by side with our CPU-trained policy on identical draws
   (our training envelope, lags 0 and 16 ms, sensor noise as ours was trained with; forward
   0.5 m/s, then commands drawn from the ranges both were trained for).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

import _record

from mjx_walker.evaluate import evaluate_policies, evaluate_policy
from mjx_walker.runner.inference import OnnxPolicy

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "models" / "specs" / "playground_berkeley_humanoid.toml"
OURS = ROOT / "models" / "policies" / "berkeley_humanoid_cpu" / "policy.onnx"
FORWARD = [0.5, 0.0, 0.0]
LAGS_MS = [0.0, 16.0]
MAX_FORWARD_ERROR = 0.15  # m/s
KEEP = ("lag_ms", "episodes", "falls", "no_fall_rate", "no_fall_ci95", "lin_speed_error_mean", "yaw_rate_error_mean")


def conditions(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each condition's headline measures."""
    return [{k: c[k] for k in KEEP} for c in report["conditions"]]


def main(argv: list[str] | None = None) -> Path:
    """Run the three evaluations and write the record."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("onnx", type=Path, help="Playground's bh_policy.onnx")
    parser.add_argument("--spec", type=Path, default=SPEC)
    parser.add_argument("--ours", type=Path, default=OURS)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "byo_policy")
    args = parser.parse_args(argv)
    common = {"episodes": args.episodes, "duration": args.duration, "verbose": False}

    theirs = OnnxPolicy(args.onnx, verbose=False, spec=args.spec)
    alone = evaluate_policy(
        theirs,
        args.out / "alone",
        command=FORWARD,
        shift=0.0,
        centre="nominal",
        lag_ms=[0.0],
        noise_level=0.0,
        **common,
    )
    walks = alone["overall"]["falls"] == 0 and alone["overall"]["lin_speed_error_mean"] <= MAX_FORWARD_ERROR
    pair = [args.ours, args.onnx]
    side = {"specs": [args.spec], "lag_ms": LAGS_MS, **common}
    forward = evaluate_policies(pair, args.out / "forward", command=FORWARD, **side)
    drawn = evaluate_policies(pair, args.out / "random", **side)
    results = {
        "alone": {"walks": walks, "overall": alone["overall"], "conditions": conditions(alone)},
        "forward": {label: conditions(r) for label, r in forward.items()},
        "random": {label: conditions(r) for label, r in drawn.items()},
    }
    rec = _record.record(
        "byo_policy_playground_bh",
        results,
        policy={
            "file": args.onnx.name,
            "sha256": hashlib.sha256(args.onnx.read_bytes()).hexdigest(),
            "source": "google-deepmind/mujoco_playground mujoco_playground/experimental/sim2sim/onnx/bh_policy.onnx",
            "spec": str(args.spec.relative_to(ROOT)) if args.spec.is_relative_to(ROOT) else str(args.spec),
        },
        ours=str(args.ours.relative_to(ROOT)) if args.ours.is_relative_to(ROOT) else str(args.ours),
        settings={"episodes": args.episodes, "duration_s": args.duration, "lags_ms": LAGS_MS, "forward": FORWARD},
    )
    path = _record.write(rec)
    print(f"alone (nominal, no lag, no noise, 0.5 m/s): walks={walks} {alone['overall']}")
    for name in ("forward", "random"):
        for label, conds in results[name].items():
            for c in conds:
                print(
                    f"{name:8s} {label:10s} lag {c['lag_ms']:4.0f} ms  no-fall {c['no_fall_rate']:.2f}  "
                    f"lin err {c['lin_speed_error_mean']}  yaw err {c['yaw_rate_error_mean']}"
                )
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
