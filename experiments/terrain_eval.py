"""Experiment: how policies walk off the flat floor, side by side on identical draws.

    python experiments/terrain_eval.py [POLICY ...] [--anchor PATH/bh_policy.onnx] [--episodes 30]

Each policy (default: the shipped ``models/policies/berkeley_humanoid_cpu``) and, with ``--anchor``,
MuJoCo Playground's Berkeley Humanoid policy (through ``models/specs/playground_berkeley_humanoid.toml``;
get ``bh_policy.onnx`` from google-deepmind/mujoco_playground,
``mujoco_playground/experimental/sim2sim/onnx/``) walk forward at 0.5 m/s for 10 s on every terrain
of ``--terrains`` (``evaluate --terrain``: flat, random bumps, random blocks, one step up), in the
first policy's training envelope at a lag of 8 ms, sensor noise on, the same draws for every policy.
Prints falls with 95% intervals per terrain and policy; writes a record to experiments/results/.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import _record

from mjx_walker.evaluate import evaluate_policies

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "models" / "specs" / "playground_berkeley_humanoid.toml"
OURS = ROOT / "models" / "policies" / "berkeley_humanoid_cpu" / "policy.onnx"
TERRAINS = ["flat", "rough:0.01", "rough:0.02", "rough:0.03", "steps:0.02", "step:0.01", "step:0.02", "step:0.03"]
KEEP = ("episodes", "falls", "no_fall_rate", "no_fall_ci95", "lin_speed_error_mean")


def main(argv: list[str] | None = None) -> Path:
    """Evaluate every policy on every terrain and write the record."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("policies", nargs="*", type=Path, default=[OURS])
    parser.add_argument("--anchor", type=Path, default=None, help="Playground's bh_policy.onnx")
    parser.add_argument("--terrains", nargs="+", default=TERRAINS)
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "terrain_eval")
    parser.add_argument("--tag", default="shipped", help="the record's name: terrain_eval_berkeley_humanoid_<TAG>")
    args = parser.parse_args(argv)
    paths = [*args.policies, *([args.anchor] if args.anchor else [])]
    specs = [SPEC] if args.anchor else None
    results: dict[str, Any] = {}
    for terrain in args.terrains:
        reports = evaluate_policies(
            paths, args.out / terrain.replace(":", "_"), specs=specs, episodes=args.episodes,
            duration=args.duration, command=[0.5, 0.0, 0.0], lag_ms=[8.0], terrain=terrain, verbose=False,
        )  # fmt: skip
        results[terrain] = {label: {k: r["conditions"][0][k] for k in KEEP} for label, r in reports.items()}
        row = "  ".join(
            f"{label}: {c['falls']}/{c['episodes']} falls, no-fall [{lo:.2f}, {hi:.2f}]"
            for label, c in results[terrain].items()
            for lo, hi in [c["no_fall_ci95"]]
        )
        print(f"{terrain:12s} {row}", flush=True)
    rec = _record.record(
        f"terrain_eval_berkeley_humanoid_{args.tag}",
        results,
        experiment="terrain_eval",
        policies=[str(p) for p in paths],
        settings={"episodes": args.episodes, "duration_s": args.duration, "command": [0.5, 0, 0], "lag_ms": 8.0},
    )
    path = _record.write(rec)
    print(f"recorded in {path}")
    return path


if __name__ == "__main__":
    main()
