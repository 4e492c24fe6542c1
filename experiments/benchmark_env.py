"""Benchmark: MJX walking-env throughput against MuJoCo C on the same model, in one run.

    python experiments/benchmark_env.py [--robot berkeley_humanoid] [--envs 16 64 256] [--steps 50]

Prints, for each batch size, compile time and physics/control steps per second of the jitted,
vmapped ``WalkEnv.step`` (PD + lag + randomized model + rewards + observations), next to the
reference: single-threaded MuJoCo C ``mj_step`` on the identical compiled model with the same PD
law. Writes a JSON record (device, versions, date) to experiments/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from mjx_walker.configs import EnvConfig, RobotConfig
from mjx_walker.env import WalkEnv
from mjx_walker.pd import pd_torque


def mujoco_c_rate(env: WalkEnv, seconds: float = 3.0) -> float:
    """Physics steps/s of MuJoCo C on the env's model, PD computed in NumPy every step."""
    robot, m = env.robot, env.robot.mj_model
    d = mujoco.MjData(m)
    d.qpos[:] = robot.default_qpos
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        d.ctrl[:] = pd_torque(
            d.qpos[robot.qpos_adr],
            d.qvel[robot.dof_adr],
            robot.default_joint_pos,
            robot.kp,
            robot.kd,
            robot.torque_limit,
        )
        mujoco.mj_step(m, d)
        n += 1
        if n % 1000 == 0:
            d.qpos[:] = robot.default_qpos
            d.qvel[:] = 0
    return n / (time.perf_counter() - start)


def mjx_rate(env: WalkEnv, num_envs: int, steps: int) -> dict[str, float]:
    """Compile time and steps/s of the jitted, vmapped env step at one batch size."""
    reset = jax.jit(jax.vmap(env.reset))
    step = jax.jit(jax.vmap(env.step))
    state, _ = reset(jax.random.split(jax.random.PRNGKey(0), num_envs))
    action = jnp.zeros((num_envs, env.action_size), jnp.float32)
    t0 = time.perf_counter()
    state, out = step(state, action)
    jax.block_until_ready(out.reward)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        state, out = step(state, action)
    jax.block_until_ready(out.reward)
    elapsed = time.perf_counter() - t0
    ctrl = num_envs * steps / elapsed
    return {
        "num_envs": num_envs,
        "compile_s": compile_s,
        "control_steps_per_s": ctrl,
        "physics_steps_per_s": ctrl * env.n_substeps,
    }


def main() -> None:
    """Run the benchmark and print/record the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", default="berkeley_humanoid")
    parser.add_argument("--envs", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    env = WalkEnv(EnvConfig(robot=RobotConfig(name=args.robot)))
    device = jax.devices()[0]
    print(
        f"robot={args.robot} device={device.device_kind} ({jax.default_backend()}) "
        f"jax={jax.__version__} mujoco={mujoco.__version__}"
    )
    ref = mujoco_c_rate(env)
    print(
        f"reference  MuJoCo C mj_step, 1 thread: {ref:10.0f} physics steps/s "
        f"({ref / env.n_substeps:8.0f} control steps/s)"
    )
    rows = []
    for n in args.envs:
        r = mjx_rate(env, n, args.steps)
        rows.append(r)
        print(
            f"MJX num_envs={n:5d}: {r['physics_steps_per_s']:10.0f} physics steps/s "
            f"({r['control_steps_per_s']:8.0f} control steps/s)"
            f"  = {r['physics_steps_per_s'] / ref:5.2f}x MuJoCo C; step compile {r['compile_s']:.1f} s"
        )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    record = {
        "date": dt.date.today().isoformat(),
        "robot": args.robot,
        "device": f"{device.device_kind} ({jax.default_backend()})",
        "cpu_count": __import__("os").cpu_count(),
        "platform": platform.platform(),
        "versions": {"jax": jax.__version__, "mujoco": mujoco.__version__, "numpy": np.__version__},
        "n_substeps": env.n_substeps,
        "mujoco_c_physics_steps_per_s": ref,
        "mjx": rows,
    }
    path = out / f"benchmark_env_{args.robot}_{jax.default_backend()}_{record['date']}.json"
    path.write_text(json.dumps(record, indent=2))
    print(f"recorded in {path}")


if __name__ == "__main__":
    main()
