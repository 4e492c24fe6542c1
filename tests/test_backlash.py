"""Motor backlash: the dead band of the PD law, the same in MJX, the runner's MuJoCo C and training's C servos."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_walker.configs import ConfigError, RandomizationConfig
from mjx_walker.pd import dead_band, pd_torque, servo_target
from mjx_walker.randomization import nominal_params, sample_params

BACKLASH = 0.03  # rad, every joint: large, so that it shows within a few control steps
STEPS = 8  # control steps of the scripted trajectory
LIFT = 1.0  # m above the standing keyframe: the robot is in the air, no contacts
# float32 MJX against float64 MuJoCo C, both with the dead band at every substep: measured 1.3e-7
EXACT_TOL = 1e-5  # rad, joint positions
# training's C servos: the dead band on joints predicted from the control step's start: measured
# 9.0e-4 against MJX, where backlash itself moved the joints by 3.2e-2
SERVO_TOL = 3e-3  # rad


def test_dead_band_and_pd_torque_by_hand():
    err = np.array([-0.3, -0.05, 0.0, 0.05, 0.3])
    np.testing.assert_allclose(dead_band(err, 0.1), [-0.2, 0.0, 0.0, 0.0, 0.2], atol=1e-12)
    # kp (0.3 - 0 - 0.1) - kd * 0.5 = 10 * 0.2 - 0.5 = 1.5; inside the band only damping: -0.5
    args = (np.zeros(2), np.full(2, 0.5), np.array([0.3, 0.08]), np.full(2, 10.0), np.ones(2), np.full(2, 100.0))
    np.testing.assert_allclose(pd_torque(*args, 0.1), [1.5, -0.5])
    np.testing.assert_allclose(pd_torque(*args), [2.5, 0.3])  # no backlash: the plain law
    jax_args = tuple(jnp.asarray(a, jnp.float32) for a in args)
    np.testing.assert_allclose(np.asarray(pd_torque(*jax_args, jnp.float32(0.1))), [1.5, -0.5], rtol=1e-6)


def test_the_dead_band_delays_torque_and_takes_off_kp_times_the_play():
    """A target ramping away at w rad/s from a joint at rest pulls only after backlash / w seconds."""
    kp, kd, limit, b, w = 20.0, 0.5, 1e3, 0.02, 0.5
    t = np.arange(0, 0.1, 0.004)
    tau = np.array([pd_torque(0.0, 0.0, w * ti, kp, kd, limit, b) for ti in t])
    free = np.array([pd_torque(0.0, 0.0, w * ti, kp, kd, limit) for ti in t])
    assert np.all(tau[t <= b / w] == 0.0) and np.all(tau[t > b / w + 1e-9] > 0)
    late = t > b / w
    np.testing.assert_allclose(free[late] - tau[late], kp * b)  # the play's share of the pull, no more


def test_a_servo_at_the_joint_gives_the_dead_band_torque():
    rng = np.random.default_rng(0)
    q, target, b = rng.uniform(-1, 1, 50), rng.uniform(-1, 1, 50), rng.uniform(0, 0.3, 50)
    kp = rng.uniform(5, 50, 50)
    np.testing.assert_allclose(kp * (servo_target(target, q, b) - q), kp * dead_band(target - q, b), atol=1e-12)


def test_backlash_is_drawn_per_joint_inside_its_range(default_env):
    robot = default_env.robot
    cfg = RandomizationConfig(backlash_rad=(0.004, 0.012))
    draws = np.stack([sample_params(jax.random.PRNGKey(i), cfg, robot).backlash for i in range(20)])
    assert draws.shape == (20, robot.nu)
    assert draws.min() >= 0.004 and draws.max() <= 0.012
    assert np.std(draws[0]) > 0  # per joint, not one value for all
    assert np.all(np.asarray(nominal_params(robot).backlash) == 0)
    # drawing backlash did not move the other terms' draws
    plain = sample_params(jax.random.PRNGKey(0), RandomizationConfig(backlash_rad=(0.0, 0.0)), robot)
    drawn = sample_params(jax.random.PRNGKey(0), cfg, robot)
    np.testing.assert_array_equal(np.asarray(plain.kp_scale), np.asarray(drawn.kp_scale))
    assert int(plain.lag) == int(drawn.lag)


@pytest.mark.parametrize("bad", [(-0.01, 0.01), (0.0, 0.5), (0.02, 0.01)])
def test_a_bad_backlash_range_is_refused_naming_the_field(bad):
    with pytest.raises(ConfigError, match=r"backlash_rad"):
        RandomizationConfig(backlash_rad=bad)


def _targets(robot, steps: int) -> np.ndarray:
    """Targets (steps, nu) rad: the default pose plus slow sines of 0.15 rad, a phase per joint."""
    t = np.arange(steps)[:, None] * 0.02
    return robot.default_joint_pos + 0.15 * np.sin(2 * np.pi * 2.0 * t + np.arange(robot.nu)[None, :])


def _airborne(robot) -> tuple[np.ndarray, np.ndarray]:
    """A start (qpos, qvel) lifted clear of the floor: the trajectory has no contacts to diverge on."""
    qpos = np.array(robot.default_qpos, float)
    qpos[2] += LIFT
    return qpos, np.zeros(robot.mj_model.nv)


@pytest.fixture(scope="module")
def trajectories(default_env):
    """Joint positions (STEPS, nu) per physics, with and without backlash, from one airborne start.

    The joints' friction loss is a constraint that MJX (float32, warm-started) and MuJoCo C (cold
    at each control step in training's pool) resolve differently at the default 3 solver
    iterations; 30 make both converge, so what is compared is the PD law.
    """
    from mjx_walker.configs import SimConfig
    from mjx_walker.model import build_robot_model
    from mjx_walker.physics_c import CPhysics
    from mjx_walker.physics_mjx import MjxPhysics
    from mjx_walker.runner.backend import SimClock
    from mjx_walker.runner.mujoco_backend import MuJoCoBackend, SimShift

    robot = build_robot_model(default_env.cfg.robot.name, SimConfig(iterations=30, ls_iterations=30))
    n_sub = default_env.n_substeps
    qpos0, qvel0 = _airborne(robot)
    targets = _targets(robot, STEPS)
    out = {}
    for b in (0.0, BACKLASH):
        params = dataclasses.replace(nominal_params(robot), backlash=jnp.full((robot.nu,), b, jnp.float32))
        for name, physics in (("mjx", MjxPhysics(robot)), ("c_servo", CPhysics(robot, nthread=1))):
            data, _ = physics.init(params, jnp.asarray(qpos0, jnp.float32), jnp.asarray(qvel0, jnp.float32))
            step = jax.jit(physics.step)
            rows = []
            for target in targets:
                data, _, _ = step(params, data, jnp.asarray(np.tile(target, (n_sub, 1)), jnp.float32))
                rows.append(np.asarray(data.qpos)[robot.qpos_adr])
            out[name, b] = np.array(rows)
        clock = SimClock()
        backend = MuJoCoBackend(robot, SimShift(backlash_rad=b), clock, qpos=qpos0, qvel=qvel0)
        rows = []
        for k, target in enumerate(targets):
            backend.write_targets(target, robot.kp, robot.kd)
            clock.sleep_until((k + 1) * default_env.ctrl_dt)
            rows.append(backend.read_state().joint_pos)
        out["runner", b] = np.array(rows)
    return out


def test_mjx_and_the_runners_mujoco_c_apply_the_same_backlash(trajectories):
    t = trajectories
    assert np.abs(t["mjx", BACKLASH] - t["runner", BACKLASH]).max() < EXACT_TOL
    assert np.abs(t["mjx", 0.0] - t["runner", 0.0]).max() < EXACT_TOL
    # and backlash changed the motion by far more than the tolerance
    assert np.abs(t["mjx", BACKLASH] - t["mjx", 0.0]).max() > 100 * EXACT_TOL


def test_trainings_c_servos_follow_the_dead_band_closely(trajectories):
    t = trajectories
    effect = np.abs(t["mjx", BACKLASH] - t["mjx", 0.0]).max()
    gap = np.abs(t["c_servo", BACKLASH] - t["mjx", BACKLASH]).max()
    assert gap < SERVO_TOL and gap < 0.1 * effect
    assert np.abs(t["c_servo", 0.0] - t["mjx", 0.0]).max() < EXACT_TOL  # without play the servos are exact
