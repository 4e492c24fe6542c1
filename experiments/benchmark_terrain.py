"""Benchmark: what the terrain heightfield costs the env step, against the flat floor, in one run.

    python experiments/benchmark_terrain.py                      # 2-core CPU: C env at 64, MJX env at 16
    python experiments/benchmark_terrain.py --mjx-envs 1024 4096 --c-envs   # on a GPU: MJX only

For each physics backend the default env (``EnvConfig()``) is timed on the flat floor and on the
training terrain (``--terrain``, default ``tiles``: ``TerrainConfig(kind="tiles")``), at the same
batch size, with the same compiled-ahead loop as ``experiments/benchmark_env.py`` (zero actions,
randomization, pushes and noise on). The table gives each terrain's control steps/s and its ratio
to flat: the heightfield's cost. Writes a JSON record to ``--out`` (default experiments/results/).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any

import _record
import jax
import mujoco
from benchmark_env import mjx_rate

from mjx_walker.configs import EnvConfig, RobotConfig, SimConfig, TerrainConfig
from mjx_walker.env import WalkEnv


def rows_for(robot: str, backend: str, sizes: list[int], terrain: str, steps: int) -> list[dict[str, Any]]:
    """Flat and ``terrain`` rates of the env on ``backend`` at each batch size."""
    rows = []
    for n in sizes:
        for kind in ("flat", terrain):
            cfg = EnvConfig(robot=RobotConfig(name=robot), sim=SimConfig(backend=backend))
            env = WalkEnv(dataclasses.replace(cfg, terrain=TerrainConfig(kind=kind)))
            row = {"backend": backend, "terrain": kind, **mjx_rate(env, n, steps, warmup=3)}
            rows.append(row)
            print(f"{backend} num_envs={n} {kind}: {row['control_steps_per_s']:,.0f} control steps/s", flush=True)
        rows[-1]["x_flat"] = rows[-1]["control_steps_per_s"] / rows[-2]["control_steps_per_s"]
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Time flat and terrain on both backends, print the table, write the record."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", default="berkeley_humanoid")
    parser.add_argument("--terrain", default="tiles", help="TerrainConfig.kind to time against flat")
    parser.add_argument("--mjx-envs", type=int, nargs="*", default=[16], help="MJX env batch sizes")
    parser.add_argument("--c-envs", type=int, nargs="*", default=[64], help="MuJoCo C env batch sizes")
    parser.add_argument("--steps", type=int, default=30, help="timed control steps per row")
    parser.add_argument("--out", default=None, help="results folder (default experiments/results)")
    args = parser.parse_args(argv)
    TerrainConfig(kind=args.terrain)  # a bad kind is refused here, before any compile
    print(f"robot={args.robot} device={jax.local_devices()[0].device_kind} host_cpus={os.cpu_count()} "
          f"jax={jax.__version__} mujoco={mujoco.__version__}", flush=True)  # fmt: skip
    rows = rows_for(args.robot, "mujoco", args.c_envs, args.terrain, args.steps)
    rows += rows_for(args.robot, "mjx", args.mjx_envs, args.terrain, args.steps)
    print(f"\n{'backend':8s} {'num_envs':>8s} {'flat /s':>10s} {args.terrain + ' /s':>12s} {'x flat':>7s}")
    for flat, rough in zip(rows[::2], rows[1::2], strict=True):
        print(
            f"{flat['backend']:8s} {flat['num_envs']:8d} {flat['control_steps_per_s']:10,.0f} "
            f"{rough['control_steps_per_s']:12,.0f} {rough['x_flat']:7.2f}"
        )
    rec = _record.record(
        f"benchmark_terrain_{args.robot}", {"rows": rows}, benchmark="terrain", robot=args.robot, terrain=args.terrain
    )
    print(f"\nrecorded in {_record.write(rec, args.out)}")
    return rec


if __name__ == "__main__":
    main()
