"""IMU errors held for an episode: a gyro bias and a mounting tilt, in training's observations and the runner's."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_walker.configs import ConfigError, RandomizationConfig
from mjx_walker.randomization import nominal_params, sample_params
from mjx_walker.sensing import Measurement, imu_error, tilt_rotation


def test_imu_error_by_hand():
    meas = Measurement(np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0]), np.zeros(2), np.zeros(2))
    roll = 0.1
    out = imu_error(meas, np.array([0.01, -0.02, 0.03]), np.array([roll, 0.0]))
    # an IMU rolled by +r sees gravity rotated by -r about x: (0, -sin r, -cos r)
    np.testing.assert_allclose(out.gravity, [0.0, -np.sin(roll), -np.cos(roll)], atol=1e-12)
    np.testing.assert_allclose(out.gyro, [0.01, -0.02 + np.sin(roll), 0.03 + np.cos(roll)], atol=1e-12)
    np.testing.assert_array_equal(out.joint_pos, meas.joint_pos)  # encoders untouched
    pitch = 0.05
    g = imu_error(meas, np.zeros(3), np.array([0.0, pitch])).gravity
    np.testing.assert_allclose(g, [np.sin(pitch), 0.0, -np.cos(pitch)], atol=1e-12)


def test_imu_error_is_the_same_in_numpy_and_jax():
    rng = np.random.default_rng(1)
    meas = Measurement(rng.normal(size=3), rng.normal(size=3), np.zeros(2), np.zeros(2))
    bias, tilt = rng.uniform(-0.1, 0.1, 3), rng.uniform(-0.1, 0.1, 2)
    ref = imu_error(meas, bias, tilt)
    got = imu_error(Measurement(*(jnp.asarray(x, jnp.float32) for x in meas)), jnp.asarray(bias), jnp.asarray(tilt))
    np.testing.assert_allclose(np.asarray(got.gyro), ref.gyro, atol=1e-6)
    np.testing.assert_allclose(np.asarray(got.gravity), ref.gravity, atol=1e-6)
    rot = tilt_rotation(tilt[0], tilt[1])
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)


def test_imu_errors_are_drawn_inside_their_ranges(default_env):
    robot = default_env.robot
    cfg = RandomizationConfig(gyro_bias=(-0.05, 0.05), imu_tilt_rad=(-0.01, 0.02))
    draws = [sample_params(jax.random.PRNGKey(i), cfg, robot) for i in range(20)]
    bias = np.stack([np.asarray(p.gyro_bias) for p in draws])
    tilt = np.stack([np.asarray(p.imu_tilt) for p in draws])
    assert bias.shape == (20, 3) and tilt.shape == (20, 2)
    assert bias.min() >= -0.05 and bias.max() <= 0.05 and np.std(bias) > 0.01
    assert tilt.min() >= -0.01 and tilt.max() <= 0.02
    assert not np.any(np.asarray(nominal_params(robot).gyro_bias))


@pytest.mark.parametrize(("field", "bad"), [("gyro_bias", (-2.0, 0.0)), ("imu_tilt_rad", (0.1, -0.1))])
def test_a_bad_imu_range_is_refused_naming_the_field(field, bad):
    with pytest.raises(ConfigError, match=field):
        RandomizationConfig(**{field: bad})


def test_the_env_shows_the_actor_the_biased_gyro_and_the_critic_the_true_one(batched, default_env):
    """The env's observation of one reset state, with and without a gyro bias (noise off)."""
    from mjx_walker.configs import NoiseConfig
    from mjx_walker.env import WalkEnv

    reset, _ = batched
    state, _ = reset(jax.random.split(jax.random.PRNGKey(0), 16))  # the session's compiled batch (test_env)
    state = jax.tree_util.tree_map(lambda x: x[0], state)
    env = WalkEnv(dataclasses.replace(default_env.cfg, noise=NoiseConfig(level=0.0)))
    bias = jnp.array([0.05, -0.04, 0.03], jnp.float32)
    plain = dataclasses.replace(state.params, gyro_bias=jnp.zeros(3), imu_tilt=jnp.zeros(2))
    data = state.data
    readout = env.sim.readout(data)  # MJX physics: the readout is a function of the data
    obs0 = env._observe(jax.random.PRNGKey(1), state.replace(params=plain), data, readout, state.feet_air_time)
    biased = dataclasses.replace(plain, gyro_bias=bias)
    obs1 = env._observe(jax.random.PRNGKey(1), state.replace(params=biased), data, readout, state.feet_air_time)
    diff = np.asarray(obs1.actor - obs0.actor)
    gyro = np.flatnonzero(np.abs(diff) > 1e-6)
    assert len(gyro) == 3  # the gyro's three entries moved, nothing else
    scale = diff[gyro] / np.asarray(bias)  # by the bias, times the observation's gyro scale
    np.testing.assert_allclose(scale, scale[0], rtol=1e-4)
    np.testing.assert_array_equal(np.asarray(obs1.critic), np.asarray(obs0.critic))


def test_the_runners_simulated_imu_has_the_pinned_errors():
    from mjx_walker.runner.mujoco_backend import MuJoCoBackend, SimShift

    true = MuJoCoBackend("berkeley_humanoid").read_state()
    shifted = MuJoCoBackend(
        "berkeley_humanoid", SimShift(gyro_bias=(0.1, 0.2, 0.3), imu_tilt_rad=(0.0, 0.05))
    ).read_state()
    np.testing.assert_allclose(shifted.gyro - true.gyro, [0.1, 0.2, 0.3], atol=1e-9)  # at rest: bias only
    expect = tilt_rotation(0.0, 0.05).T @ true.gravity
    np.testing.assert_allclose(shifted.gravity, expect, atol=1e-12)
    np.testing.assert_array_equal(shifted.joint_pos, true.joint_pos)
