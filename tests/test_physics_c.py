"""The MuJoCo C physics backend against the MJX one, and its parts against hand-computed values."""

from __future__ import annotations

import copy
import dataclasses

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from mjx_walker import lag
from mjx_walker.c_pool import PARAM_FIELDS, CPool, build_servo_model, write_params
from mjx_walker.configs import ConfigError, EnvConfig, SimConfig
from mjx_walker.pd import pd_torque
from mjx_walker.randomization import apply_params, sample_params

N = 16  # the batch of the session's MJX fixture (tests/test_env.py)
STEPS = 10
# float32 MJX against float64 MuJoCo C, over STEPS control steps of scripted actions from the same
# reset, the same randomized physics, noise and pushes. The C backend starts each control step's
# solver cold (mujoco.rollout keeps no warm start between calls), MJX warm; with 3 solver
# iterations contacts resolve slightly differently, so single joint velocities at foot impacts
# differ (measured max 1.07 rad/s, p99 0.075) while the trajectories stay together. Backlash (drawn
# 0-0.01 rad per joint) adds the C servos' dead band on predicted joints (tests/test_backlash.py).
QPOS_TOL = 0.04  # max |qpos difference| over the trajectory; measured 0.0275 (0.009 without backlash)
OBS_MEAN_TOL = 0.02  # mean |actor obs difference|; measured 0.0045 (mean |obs| 0.49)
REWARD_TOL = 2e-3  # per-step total reward; measured 7.8e-4


@pytest.fixture(scope="module")
def c_env(default_env):
    """The default env with MuJoCo C physics (the same configs otherwise)."""
    from mjx_walker.env import WalkEnv

    cfg = default_env.cfg
    return WalkEnv(dataclasses.replace(cfg, sim=dataclasses.replace(cfg.sim, backend="mujoco")))


@pytest.fixture(scope="module")
def still_start_pair(default_env):
    """(MJX env, C env): the default configs but joints starting at the default pose.

    Joints started up to 0.05 rad off it at the default base height put feet a little into or above
    the floor, and the first step's contact impulse is where float32 MJX and float64 C differ most
    (measured max |qpos| 0.065 at step 1, mean |obs| 0.044): the comparison starts from rest.
    """
    from mjx_walker.env import WalkEnv

    cfg = default_env.cfg
    cfg = dataclasses.replace(
        cfg, randomization=dataclasses.replace(cfg.randomization, start_joint_offset_rad=(0.0, 0.0))
    )
    return WalkEnv(cfg), WalkEnv(dataclasses.replace(cfg, sim=dataclasses.replace(cfg.sim, backend="mujoco")))


def _scripted(steps: int, nu: int) -> np.ndarray:
    """Actions (steps, N, nu): slow sines, different per joint and env."""
    t = np.arange(steps)[:, None, None] * 0.02
    phase = np.arange(N)[None, :, None] * 0.3 + np.arange(nu)[None, None, :]
    return (0.4 * np.sin(2 * np.pi * 1.5 * t + phase)).astype(np.float32)


def _run(reset, step, actions):
    """Reset N envs from a fixed key and step them through ``actions``; per-step outputs stacked."""
    state, obs = reset(jax.random.split(jax.random.PRNGKey(3), N))
    qpos, actor, reward, critic = [state.data.qpos], [obs.actor], [], [obs.critic]
    for a in actions:
        state, out = step(state, jnp.asarray(a))
        qpos.append(state.data.qpos)
        actor.append(out.obs.actor)
        critic.append(out.obs.critic)
        reward.append(out.reward)
    return {k: np.asarray(v) for k, v in dict(qpos=qpos, actor=actor, critic=critic, reward=reward).items()}


def test_mujoco_c_matches_mjx_on_a_scripted_trajectory(still_start_pair):
    mjx_env, c_env = still_start_pair
    actions = _scripted(STEPS, mjx_env.action_size)
    mjx_run = _run(jax.jit(jax.vmap(mjx_env.reset)), jax.jit(jax.vmap(mjx_env.step)), actions)
    c_run = _run(jax.jit(jax.vmap(c_env.reset)), jax.jit(jax.vmap(c_env.step)), actions)
    # the reset is kinematic: both backends read the same state
    np.testing.assert_allclose(c_run["actor"][0], mjx_run["actor"][0], atol=1e-4)
    np.testing.assert_allclose(c_run["critic"][0], mjx_run["critic"][0], atol=1e-4)
    assert np.abs(c_run["qpos"] - mjx_run["qpos"]).max() < QPOS_TOL
    assert np.abs(c_run["actor"] - mjx_run["actor"]).mean() < OBS_MEAN_TOL
    assert np.abs(c_run["reward"] - mjx_run["reward"]).max() < REWARD_TOL
    # and the trajectory went somewhere: the joints moved far more than the tolerance
    assert np.abs(c_run["qpos"][-1] - c_run["qpos"][0]).max() > 5 * QPOS_TOL  # moved 0.34


def test_the_params_written_into_a_c_model_are_training_randomization(c_env, default_env):
    robot = default_env.robot
    params = sample_params(jax.random.PRNGKey(5), default_env.cfg.randomization, robot)
    mx = apply_params(default_env.mjx_model, robot, params)
    servo = c_env.sim.servo
    row = np.concatenate([np.ravel(np.asarray(getattr(params, n))) for n in PARAM_FIELDS])
    m = copy.copy(servo.model)
    write_params(servo, m, row)
    for name in ("body_mass", "body_inertia", "body_ipos", "geom_friction", "dof_armature", "dof_damping"):
        np.testing.assert_allclose(getattr(m, name), np.asarray(getattr(mx, name)), rtol=1e-6, atol=1e-7, err_msg=name)
    np.testing.assert_allclose(m.dof_frictionloss, np.asarray(mx.dof_frictionloss), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(m.actuator_gainprm[:, 0], robot.kp * np.asarray(params.kp_scale), rtol=1e-6)
    np.testing.assert_allclose(-m.actuator_biasprm[:, 2], robot.kd * np.asarray(params.kd_scale), rtol=1e-6)
    assert not np.allclose(m.body_mass, servo.model.body_mass)  # the draw did change something


def test_a_servo_step_is_the_pd_law_of_the_runner(default_env):
    """MuJoCo's servo in C equals pd_torque written into a torque motor, substep by substep."""
    robot = default_env.robot
    servo = build_servo_model(robot).model
    motor = robot.mj_model
    d_servo, d_motor = mujoco.MjData(servo), mujoco.MjData(motor)
    for d in (d_servo, d_motor):
        d.qpos[:] = robot.default_qpos
    target = robot.default_joint_pos + 0.3 * np.sin(np.arange(robot.nu))
    for _ in range(100):
        d_motor.ctrl[:] = pd_torque(
            d_motor.qpos[robot.qpos_adr], d_motor.qvel[robot.dof_adr], target, robot.kp, robot.kd, robot.torque_limit
        )
        mujoco.mj_step(motor, d_motor)
        d_servo.ctrl[:] = target
        mujoco.mj_step(servo, d_servo)
    np.testing.assert_allclose(d_servo.qpos, d_motor.qpos, atol=1e-9)
    np.testing.assert_allclose(d_servo.actuator_force, d_motor.actuator_force, atol=1e-7)
    assert np.abs(d_motor.actuator_force).max() > 1.0  # the PD law was working, not idle


def test_the_pool_flags_a_reset_simulation_as_nonfinite(default_env):
    robot = default_env.robot
    servo = build_servo_model(robot)
    pool = CPool(servo, nthread=1)
    params = sample_params(jax.random.PRNGKey(0), default_env.cfg.randomization, robot)
    row = np.concatenate([np.ravel(np.asarray(getattr(params, n))) for n in PARAM_FIELDS])[None]
    qvel = np.zeros((1, servo.model.nv))
    qvel[0, 6:] = 1e12  # joint speeds MuJoCo's own check rejects: it resets the simulation
    ctrl = np.tile(robot.default_joint_pos, (1, 2, 1))
    qpos, *_ = pool.step(row, robot.default_qpos[None], qvel, ctrl)
    assert np.all(np.isnan(qpos))
    qpos, *_ = pool.step(row, robot.default_qpos[None], np.zeros_like(qvel), ctrl)
    assert np.all(np.isfinite(qpos))


def test_lag_schedule_is_push_then_read_per_substep():
    buffer = np.array([[3.0], [2.0], [1.0], [0.0]])  # newest first
    new, applied = lag.schedule(buffer, np.array([9.0]), 2, 3)
    # substep 1: [9, 3, 2, 1] -> reads 2; substep 2: [9, 9, 3, 2] -> 3; substep 3: [9, 9, 9, 3] -> 9
    np.testing.assert_array_equal(applied[:, 0], [2.0, 3.0, 9.0])
    np.testing.assert_array_equal(new[:, 0], [9.0, 9.0, 9.0, 3.0])


def test_an_unknown_backend_is_refused_before_anything_builds():
    with pytest.raises(ConfigError, match=r"SimConfig.backend = 'warp'.*'mjx', 'mujoco'"):
        EnvConfig(sim=SimConfig(backend="warp"))
