"""Domain randomization: per-env values differ, lie in range, vanish at zero width, renew at reset."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_walker.brax_env import BraxWalkEnv, wrap_for_training
from mjx_walker.configs import EnvConfig, RandomizationConfig
from mjx_walker.env import WalkEnv
from mjx_walker.randomization import apply_params, sample_params

N = 64


@pytest.fixture(scope="module")
def samples(default_env):
    keys = jax.random.split(jax.random.PRNGKey(3), N)
    return jax.jit(jax.vmap(lambda k: sample_params(k, default_env.cfg.randomization, default_env.robot)))(keys)


def _in(x, rng):
    x = np.asarray(x)
    return bool(np.all(x >= rng[0] - 1e-6) and np.all(x <= rng[1] + 1e-6))


def test_samples_lie_in_ranges_and_differ_per_env(samples, default_env):
    cfg = default_env.cfg.randomization
    body_scales = np.asarray(samples.mass_scale)[:, 1:]  # world body stays at 1
    checks = {
        "friction": (samples.friction, cfg.friction),
        "mass_scale": (body_scales, cfg.mass_scale),
        "payload": (samples.payload, cfg.payload_kg),
        "com_offset": (samples.com_offset, cfg.com_offset_m),
        "kp_scale": (samples.kp_scale, cfg.kp_scale),
        "kd_scale": (samples.kd_scale, cfg.kd_scale),
        "armature_scale": (samples.armature_scale, cfg.armature_scale),
        "damping_scale": (samples.damping_scale, cfg.damping_scale),
        "frictionloss_scale": (samples.frictionloss_scale, cfg.frictionloss_scale),
        "lag": (samples.lag, cfg.lag_substeps),
    }
    for name, (values, rng) in checks.items():
        assert _in(values, rng), name
        flat = np.asarray(values).reshape(N, -1)
        distinct = len(np.unique(flat, axis=0))
        assert distinct > (N // 2 if name != "lag" else 1), f"{name} barely varies across envs"
    np.testing.assert_array_equal(np.asarray(samples.mass_scale)[:, 0], 1.0)
    assert samples.lag.dtype == jnp.int32
    assert set(np.unique(samples.lag)) == set(range(cfg.lag_substeps[0], cfg.lag_substeps[1] + 1))


def test_applied_model_carries_the_sampled_values(samples, default_env):
    robot = default_env.robot
    m = robot.mj_model
    p = jax.tree.map(lambda x: x[0], samples)
    model = apply_params(default_env.mjx_model, robot, p)
    torso = robot.torso_body
    expected_mass = m.body_mass * np.asarray(p.mass_scale)
    expected_mass[torso] += float(p.payload)
    np.testing.assert_allclose(model.body_mass, expected_mass, rtol=1e-6)
    np.testing.assert_allclose(model.body_ipos[torso], m.body_ipos[torso] + np.asarray(p.com_offset), atol=1e-7)
    assert float(model.geom_friction[robot.floor_geom, 0]) == pytest.approx(float(p.friction))
    # the floor out-ranks the feet, so its friction is the contact friction
    feet = robot.foot_geoms[robot.foot_geoms >= 0]
    assert np.all(m.geom_priority[feet] < m.geom_priority[robot.floor_geom])
    np.testing.assert_allclose(
        model.dof_damping[robot.dof_adr], m.dof_damping[robot.dof_adr] * np.asarray(p.damping_scale), rtol=1e-6
    )


def test_zero_width_ranges_give_exactly_the_nominal_model(default_env):
    robot = default_env.robot
    nominal = RandomizationConfig.nominal()
    p = sample_params(jax.random.PRNGKey(0), nominal, robot)
    model = apply_params(default_env.mjx_model, robot, p)
    for name in (
        "body_mass",
        "body_inertia",
        "body_ipos",
        "geom_friction",
        "pair_friction",
        "dof_armature",
        "dof_damping",
        "dof_frictionloss",
    ):
        np.testing.assert_array_equal(getattr(model, name), getattr(default_env.mjx_model, name), err_msg=name)
    np.testing.assert_array_equal(p.kp_scale, 1.0)
    assert int(p.lag) == 0


def test_reset_inside_jit_gives_each_env_its_own_physics(batched):
    reset, _ = batched
    state, _ = reset(jax.random.split(jax.random.PRNGKey(1), 8))
    assert len(np.unique(np.asarray(state.params.friction))) == 8
    assert len(np.unique(np.asarray(state.params.payload))) == 8


def test_reset_starts_the_joints_inside_the_offset_range(batched, default_env):
    """Each joint starts within start_joint_offset_rad of the default pose, and not all at it."""
    reset, _ = batched
    state, _ = reset(jax.random.split(jax.random.PRNGKey(1), 8))
    robot, lo_hi = default_env.robot, default_env.cfg.randomization.start_joint_offset_rad
    offsets = np.asarray(state.data.qpos)[:, robot.qpos_adr] - robot.default_qpos[robot.qpos_adr]
    assert _in(offsets, lo_hi)
    assert np.abs(offsets).max() > 0.6 * lo_hi[1]  # 8 x nu draws reach near the edge
    assert len(np.unique(offsets[:, 0])) == 8


def test_auto_reset_during_training_draws_new_values():
    """Through the Brax training wrappers, every finished env restarts with fresh randomization."""
    cfg = EnvConfig()
    env = wrap_for_training(BraxWalkEnv(WalkEnv(cfg)), episode_length=100)
    state = jax.jit(env.reset)(jax.random.split(jax.random.PRNGKey(2), 4))
    before = state.pipeline_state.params
    # Drop every torso far below the fall height: each env terminates on this step.
    ps = state.pipeline_state
    state = state.replace(pipeline_state=ps.replace(data=ps.data.replace(qpos=ps.data.qpos.at[:, 2].set(0.1))))
    after_state = jax.jit(env.step)(state, jnp.zeros((4, env.action_size)))
    assert np.all(np.asarray(after_state.done) == 1.0)
    after = after_state.pipeline_state.params
    for field in dataclasses.fields(before):
        b, a = np.asarray(getattr(before, field.name)), np.asarray(getattr(after, field.name))
        if field.name in ("lag", "mass_scale"):  # integers may repeat; the world body stays at 1
            continue
        assert not np.any(np.isclose(a, b, rtol=0, atol=1e-9)), f"{field.name} was reused after auto-reset"
    assert np.any(np.asarray(after.mass_scale)[:, 1:] != np.asarray(before.mass_scale)[:, 1:])
    # a fresh episode: step counter back to 0, standing pose again
    np.testing.assert_array_equal(after_state.pipeline_state.steps, 0)
    np.testing.assert_array_equal(after_state.info["steps"], 1)  # EpisodeWrapper counts the finished step
    assert np.all(np.asarray(after_state.pipeline_state.data.qpos[:, 2]) > 0.5)
    rc = cfg.randomization
    assert _in(after.friction, rc.friction) and _in(after.payload, rc.payload_kg)
