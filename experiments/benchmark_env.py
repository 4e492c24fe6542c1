"""Benchmark: MJX walking-env throughput against MuJoCo C on the same model, in one run.

    python experiments/benchmark_env.py [--robot berkeley_humanoid] [--envs 16 64 256] [--steps 50]
    python experiments/benchmark_env.py --envs 1024 2048 4096 8192 16384 --steps 100 --c-envs   # on a GPU

The env runs on both physics backends: MJX (``--envs``) and MuJoCo C through the env's callback
(``--c-envs``, ``SimConfig.backend="mujoco"``: the whole env step, randomized models included).

MJX side: ``jax.jit(jax.vmap(env.reset))`` and ``jax.jit(jax.vmap(env.step))`` of
``WalkEnv(EnvConfig(robot=RobotConfig(name=robot)))`` -- the default EnvConfig, so domain
randomization (friction, masses, payload, COM, gains, joint properties) and actuator lag are on,
as are pushes and observation noise; every step also computes rewards and both observations.
Both functions are compiled ahead of time (``.lower(...).compile()``), so reset and step compile
times are measured on their own, and the timed loop calls the compiled executables: they cannot
recompile (a changed input dtype or shape would raise instead). The step donates its state.
After ``--warmup`` steps, ``--steps`` steps are timed with zero actions (PD targets at the
standing pose).

MuJoCo C reference: the same compiled MjModel (``env.robot.mj_model``) stepped by
``mujoco.rollout`` on 1 thread and on all cores (``os.cpu_count()`` threads), nominal physics, no
lag. The env's actuators are unit-gain torque motors whose PD law runs outside MuJoCo
(``mjx_walker/pd.py``); computing that PD in NumPy every step would time the Python interpreter
(and hold the GIL across threads), not MuJoCo. So the reference uses a copy of the model whose
actuators are turned back into the equivalent position servos (gain kp, bias -kp q - kd qd, force
clamped to +-torque_limit: the same formula as ``pd_torque`` with constant targets, which the
Euler integrator treats explicitly, as the env does) and steps it entirely in C. The script checks
that equivalence before timing: 1 s of motor + NumPy PD and of the servo copy from the same state
must agree (max |qpos| difference recorded). The reference does less work per step than the env
(no randomized model, rewards or observations): it is the bare-physics bound.

Prints a table (num_envs, physics and control steps/s, ratios to MuJoCo C), then compile times;
writes a JSON record (``experiments/_record.py``) to ``--out`` (default experiments/results/).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import time
from typing import Any

import _record
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import rollout

from mjx_walker.configs import EnvConfig, RobotConfig
from mjx_walker.env import WalkEnv
from mjx_walker.model import RobotModel
from mjx_walker.pd import pd_torque

REF_ROLLOUT_STEPS = 500  # physics steps per rollout in the MuJoCo C reference (1 s at 2 ms)
EQUIVALENCE_TOL = 1e-6  # max |qpos| difference allowed between motor + NumPy PD and the servo copy


# ----------------------------------------------------------------------------- MuJoCo C reference
def servo_model(robot: RobotModel) -> mujoco.MjModel:
    """A copy of the robot's MjModel whose motors are position servos with the env's PD law."""
    m = copy.deepcopy(robot.mj_model)
    m.actuator_gaintype[:] = mujoco.mjtGain.mjGAIN_FIXED
    m.actuator_biastype[:] = mujoco.mjtBias.mjBIAS_AFFINE
    m.actuator_gainprm[:] = 0.0
    m.actuator_biasprm[:] = 0.0
    m.actuator_gainprm[:, 0] = robot.kp
    m.actuator_biasprm[:, 1] = -robot.kp
    m.actuator_biasprm[:, 2] = -robot.kd
    m.actuator_ctrllimited[:] = 0  # ctrl is now a joint target in rad, not a torque
    m.actuator_forcelimited[:] = 1
    m.actuator_forcerange[:, 0] = -robot.torque_limit
    m.actuator_forcerange[:, 1] = robot.torque_limit
    return m


def initial_states(robot: RobotModel, count: int, seed: int = 0) -> np.ndarray:
    """(count, nstate) full physics states at the standing pose with a small random base velocity."""
    m = robot.mj_model
    d = mujoco.MjData(m)
    rng = np.random.default_rng(seed)
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    states = np.empty((count, mujoco.mj_stateSize(m, spec)))
    for i in range(count):
        mujoco.mj_resetData(m, d)
        d.qpos[:] = robot.default_qpos
        d.qvel[0:6] = rng.uniform(-0.2, 0.2, 6)  # as WalkEnv.reset
        mujoco.mj_forward(m, d)
        mujoco.mj_getState(m, d, states[i], spec)
    return states


def check_equivalence(robot: RobotModel, servo: mujoco.MjModel, state: np.ndarray, steps: int = 500) -> float:
    """Max |qpos| difference after ``steps`` of motor + NumPy PD versus the servo copy, same start."""
    m, spec = robot.mj_model, mujoco.mjtState.mjSTATE_FULLPHYSICS
    d_motor, d_servo = mujoco.MjData(m), mujoco.MjData(servo)
    mujoco.mj_setState(m, d_motor, state, spec)
    mujoco.mj_setState(servo, d_servo, state, spec)
    target = robot.default_joint_pos
    d_servo.ctrl[:] = target
    for _ in range(steps):
        q, qd = d_motor.qpos[robot.qpos_adr], d_motor.qvel[robot.dof_adr]
        d_motor.ctrl[:] = pd_torque(q, qd, target, robot.kp, robot.kd, robot.torque_limit)
        mujoco.mj_step(m, d_motor)
        mujoco.mj_step(servo, d_servo)
    return float(np.max(np.abs(d_motor.qpos - d_servo.qpos)))


def mujoco_c_rate(robot: RobotModel, servo: mujoco.MjModel, threads: int, seconds: float) -> float:
    """Physics steps/s of ``mujoco.rollout`` on ``threads`` threads (1: the calling thread)."""
    nbatch = 4 * threads
    states = initial_states(robot, nbatch)
    control = np.tile(robot.default_joint_pos, (nbatch, REF_ROLLOUT_STEPS, 1))
    out = np.empty((nbatch, REF_ROLLOUT_STEPS, states.shape[1]))
    datas = [mujoco.MjData(servo) for _ in range(threads)]
    with rollout.Rollout(nthread=threads if threads > 1 else 0) as pool:

        def run() -> None:
            """One batch of rollouts into the preallocated output."""
            pool.rollout(servo, datas, states, control, state=out)

        run()  # warm-up: thread pool start, first touches of memory
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            run()
            steps += nbatch * REF_ROLLOUT_STEPS
        elapsed = time.perf_counter() - start
    if not np.all(np.isfinite(out)):
        raise RuntimeError("MuJoCo C reference produced non-finite states")
    return steps / elapsed


def reference(env: WalkEnv, seconds: float) -> dict[str, Any]:
    """MuJoCo C physics steps/s on 1 thread and all cores, after checking the servo equivalence."""
    servo = servo_model(env.robot)
    error = check_equivalence(env.robot, servo, initial_states(env.robot, 1, seed=1)[0])
    if error > EQUIVALENCE_TOL:
        raise RuntimeError(f"servo copy differs from motor + NumPy PD by {error:.3g} rad (> {EQUIVALENCE_TOL})")
    cores = os.cpu_count() or 1
    one = mujoco_c_rate(env.robot, servo, 1, seconds)
    everything = mujoco_c_rate(env.robot, servo, cores, seconds)
    return {
        "method": "mujoco.rollout, actuators as equivalent position servos (PD in C), nominal physics, no lag",
        "equivalence_max_qpos_diff": error,
        "threads_all_cores": cores,
        "physics_steps_per_s_1_thread": one,
        "physics_steps_per_s_all_cores": everything,
        "control_steps_per_s_1_thread": one / env.n_substeps,
        "control_steps_per_s_all_cores": everything / env.n_substeps,
    }


# ---------------------------------------------------------------------------------------- MJX
def timed_compile(fn: Any, *args: Any) -> tuple[Any, float]:
    """Trace, lower and compile ``fn`` for ``args``; the executable and the seconds it took."""
    start = time.perf_counter()
    compiled = fn.lower(*args).compile()
    return compiled, time.perf_counter() - start


def mjx_rate(env: WalkEnv, num_envs: int, steps: int, warmup: int) -> dict[str, Any]:
    """Compile times and steady-state steps/s of the jitted, vmapped env at one batch size (either physics)."""
    keys = jax.random.split(jax.random.PRNGKey(0), num_envs)
    reset, reset_compile_s = timed_compile(jax.jit(jax.vmap(env.reset)), keys)
    state, _ = reset(keys)
    action = jnp.zeros((num_envs, env.action_size), jnp.float32)
    step, step_compile_s = timed_compile(jax.jit(jax.vmap(env.step), donate_argnums=0), state, action)
    for _ in range(warmup):
        state, out = step(state, action)
    jax.block_until_ready(state)
    start = time.perf_counter()
    for _ in range(steps):
        state, out = step(state, action)
    jax.block_until_ready((state, out))
    elapsed = time.perf_counter() - start
    control = num_envs * steps / elapsed
    return {
        "num_envs": num_envs,
        "steps": steps,
        "elapsed_s": elapsed,
        "physics_steps_per_s": control * env.n_substeps,
        "control_steps_per_s": control,
        "reset_compile_s": reset_compile_s,
        "step_compile_s": step_compile_s,
        "fallen_share": float(jnp.mean(out.done)),
    }


# --------------------------------------------------------------------------------- reporting
def env_summary(cfg: EnvConfig) -> dict[str, Any]:
    """What of the env config matters for speed: randomization, lag range, pushes, noise."""
    rnd = cfg.randomization
    ranges = {f.name: getattr(rnd, f.name) for f in dataclasses.fields(rnd) if f.name != "max_lag_substeps"}
    return {
        "randomization": any(lo != hi for lo, hi in ranges.values()),
        "randomization_ranges": ranges,
        "lag_substeps": list(rnd.lag_substeps),
        "lag_ms": [lag * cfg.sim.sim_dt * 1e3 for lag in rnd.lag_substeps],
        "pushes": cfg.push.enabled,
        "noise_level": cfg.noise.level,
        "ctrl_dt": cfg.sim.ctrl_dt,
        "sim_dt": cfg.sim.sim_dt,
        "solver_iterations": [cfg.sim.iterations, cfg.sim.ls_iterations],
    }


def print_table(rows: list[dict[str, Any]], ref: dict[str, Any]) -> None:
    """The throughput table, then the compile times."""
    cores = ref["threads_all_cores"]
    header = [
        "num_envs",
        "physics steps/s",
        "control steps/s",
        f"x MuJoCo C (all {cores} cores)",
        "x MuJoCo C (1 thread)",
    ]
    print("\n| " + " | ".join(header) + " |\n|---:|---:|---:|---:|---:|")
    print(
        f"| MuJoCo C, {cores} threads | {ref['physics_steps_per_s_all_cores']:,.0f} | "
        f"{ref['control_steps_per_s_all_cores']:,.0f} | 1.00 | "
        f"{ref['physics_steps_per_s_all_cores'] / ref['physics_steps_per_s_1_thread']:.2f} |"
    )
    print(
        f"| MuJoCo C, 1 thread | {ref['physics_steps_per_s_1_thread']:,.0f} | "
        f"{ref['control_steps_per_s_1_thread']:,.0f} | "
        f"{ref['physics_steps_per_s_1_thread'] / ref['physics_steps_per_s_all_cores']:.2f} | 1.00 |"
    )
    for r in rows:
        print(
            f"| {r['label']} {r['num_envs']} | {r['physics_steps_per_s']:,.0f} | {r['control_steps_per_s']:,.0f} | "
            f"{r['x_mujoco_c_all_cores']:.2f} | {r['x_mujoco_c_1_thread']:.2f} |"
        )
    print("\n| env | reset compile (s) | step compile (s) |\n|---|---:|---:|")
    for r in rows:
        print(f"| {r['label']} {r['num_envs']} | {r['reset_compile_s']:.1f} | {r['step_compile_s']:.1f} |")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table and write the record."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", default="berkeley_humanoid")
    parser.add_argument("--envs", type=int, nargs="+", default=[16, 64, 256], help="num_envs sweep")
    parser.add_argument(
        "--c-envs", type=int, nargs="*", default=[64, 256, 1024], help="num_envs sweep of the env on MuJoCo C physics"
    )
    parser.add_argument("--steps", type=int, default=50, help="timed control steps per num_envs")
    parser.add_argument("--warmup", type=int, default=3, help="untimed control steps after compiling")
    parser.add_argument("--ref-seconds", type=float, default=3.0, help="timing of each MuJoCo C reference")
    parser.add_argument("--out", default=None, help="results folder (default experiments/results)")
    args = parser.parse_args(argv)

    env = WalkEnv(EnvConfig(robot=RobotConfig(name=args.robot)))
    dev = jax.local_devices()[0]
    print(
        f"robot={args.robot} device={dev.device_kind} ({jax.default_backend()}) host_cpus={os.cpu_count()} "
        f"jax={jax.__version__} mujoco={mujoco.__version__} n_substeps={env.n_substeps}",
        flush=True,
    )
    ref = reference(env, args.ref_seconds)
    print(
        f"MuJoCo C: {ref['physics_steps_per_s_1_thread']:,.0f} physics steps/s on 1 thread, "
        f"{ref['physics_steps_per_s_all_cores']:,.0f} on {ref['threads_all_cores']} "
        f"(servo copy matches motor + NumPy PD to {ref['equivalence_max_qpos_diff']:.1e} rad)",
        flush=True,
    )
    c_env = WalkEnv(dataclasses.replace(env.cfg, sim=dataclasses.replace(env.cfg.sim, backend="mujoco")))
    rows = []
    for label, walk_env, sizes in (("MJX env", env, args.envs), ("C env", c_env, args.c_envs)):
        for n in sizes:
            row = {"label": label, **mjx_rate(walk_env, n, args.steps, args.warmup)}
            row["x_mujoco_c_all_cores"] = row["physics_steps_per_s"] / ref["physics_steps_per_s_all_cores"]
            row["x_mujoco_c_1_thread"] = row["physics_steps_per_s"] / ref["physics_steps_per_s_1_thread"]
            rows.append(row)
            print(
                f"{label} num_envs={n}: {row['physics_steps_per_s']:,.0f} physics steps/s "
                f"(compile reset {row['reset_compile_s']:.1f} s, step {row['step_compile_s']:.1f} s)",
                flush=True,
            )
    print_table(rows, ref)
    rec = _record.record(
        f"benchmark_env_{args.robot}",
        {
            "mujoco_c": ref,
            "mjx": [r for r in rows if r["label"] == "MJX env"],
            "c_env": [r for r in rows if r["label"] == "C env"],
        },
        benchmark="env",
        robot=args.robot,
        n_substeps=env.n_substeps,
        env_config=env_summary(env.cfg),
        jax_compilation_cache=jax.config.jax_compilation_cache_dir,
        settings={"steps": args.steps, "warmup": args.warmup, "ref_seconds": args.ref_seconds},
    )
    print(f"\nrecorded in {_record.write(rec, args.out)}")
    return rec


if __name__ == "__main__":
    main()
