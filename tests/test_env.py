"""The walking environment: determinism, jit/eager agreement, no NaN, observation layout, rewards."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_walker import gait

N = 16


def _rollout(batched, key, steps):
    reset, step = batched
    key_reset, key_act = jax.random.split(key)
    state, obs = reset(jax.random.split(key_reset, N))
    rewards, observations = [], [obs.actor]
    for k in jax.random.split(key_act, steps):
        action = jax.random.uniform(k, (N, 12), minval=-1.0, maxval=1.0)
        state, out = step(state, action)
        rewards.append(out.reward)
        observations.append(out.obs.actor)
    return state, np.stack(rewards), np.stack(observations)


def test_same_key_same_rollout_different_key_different(batched):
    s1, r1, o1 = _rollout(batched, jax.random.PRNGKey(7), 5)
    s2, r2, o2 = _rollout(batched, jax.random.PRNGKey(7), 5)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(s1.data.qpos, s2.data.qpos)
    _, _, o3 = _rollout(batched, jax.random.PRNGKey(8), 5)
    assert not np.allclose(o1, o3)


def test_random_actions_produce_no_nan(batched):
    state, rewards, observations = _rollout(batched, jax.random.PRNGKey(0), 100)
    assert np.all(np.isfinite(rewards)) and np.all(np.isfinite(observations))
    assert np.all(np.isfinite(np.asarray(state.data.qpos)))
    assert int(state.steps[0]) == 100
    # the state step returns has the dtypes/weak types of reset's: 100 calls, one compile
    assert batched[1]._cache_size() == 1
    # random flailing knocks robots over: termination is detected
    assert np.asarray(state.data.qpos[:, 2]).min() < 0.6 * 0.515


def test_jitted_and_eager_step_agree(nominal_env):
    env = nominal_env
    state, _ = jax.jit(env.reset)(jax.random.PRNGKey(4))
    action = jnp.linspace(-0.5, 0.5, env.action_size)
    s_jit, out_jit = jax.jit(env.step)(state, action)
    s_eager, out_eager = env.step(state, action)
    np.testing.assert_allclose(s_jit.data.qpos, s_eager.data.qpos, atol=1e-5)
    np.testing.assert_allclose(out_jit.obs.actor, out_eager.obs.actor, atol=1e-4)
    np.testing.assert_allclose(out_jit.reward, out_eager.reward, atol=1e-5)


@pytest.fixture(scope="module")
def nominal_first_steps(nominal_env):
    env = nominal_env
    state, obs = jax.jit(env.reset)(jax.random.PRNGKey(11))
    action = jnp.linspace(-0.3, 0.3, env.action_size)
    state1, out = jax.jit(env.step)(state, action)
    return env, state, obs, action, state1, out


def test_observation_slices_hold_what_they_say(nominal_first_steps):
    env, state, obs, action, state1, out = nominal_first_steps
    sl = env.actor_layout.slices
    a = np.asarray(obs.actor)
    assert a.shape == (env.actor_layout.size,) == (3 + 3 + 12 * 3 + 3 + 4,)
    # standing upright (random yaw): gravity points straight down in the IMU frame
    np.testing.assert_allclose(a[sl["gravity"]], [0.0, 0.0, -1.0], atol=1e-5)
    # the IMU site is the torso frame: gyro equals the free joint's body-frame angular velocity
    np.testing.assert_allclose(a[sl["gyro"]], state.data.qvel[3:6], atol=1e-5)
    assert np.abs(a[sl["gyro"]]).max() > 0  # reset perturbs the base velocity
    np.testing.assert_allclose(a[sl["joint_pos"]], 0.0, atol=1e-6)  # relative to the default pose
    np.testing.assert_allclose(a[sl["joint_vel"]], 0.0, atol=1e-6)
    np.testing.assert_array_equal(a[sl["last_action"]], 0.0)
    np.testing.assert_allclose(a[sl["command"]], state.command)
    phase = np.asarray(gait.initial_phase())
    np.testing.assert_allclose(a[sl["gait_phase"]], np.concatenate([np.cos(phase), np.sin(phase)]), atol=1e-6)
    # after a step: last_action is the action, joint_pos follows qpos
    a1 = np.asarray(out.obs.actor)
    np.testing.assert_allclose(a1[sl["last_action"]], action, atol=1e-7)
    q = np.asarray(state1.data.qpos)[env.robot.qpos_adr] - env.robot.default_joint_pos
    np.testing.assert_allclose(a1[sl["joint_pos"]], q, atol=1e-6)


def test_critic_observation_holds_privileged_state(nominal_first_steps):
    env, state, obs, _, _, _ = nominal_first_steps
    sl = env.critic_layout.slices
    c = np.asarray(obs.critic)
    assert c.shape == (env.critic_layout.size,)
    np.testing.assert_allclose(c[: env.actor_layout.size], obs.actor, atol=1e-7)  # noise-free here
    rot = np.asarray(state.data.xmat[env.robot.root_body])
    np.testing.assert_allclose(c[sl["base_linvel"]], rot.T @ np.asarray(state.data.qvel[:3]), atol=1e-5)
    assert c[sl["friction"]][0] == pytest.approx(float(state.params.friction))
    assert c[sl["lag"]][0] == pytest.approx(float(state.params.lag) * env.cfg.sim.sim_dt)
    np.testing.assert_array_equal(c[sl["feet_contact"]], [1.0, 1.0])  # standing on both feet


def test_actor_noise_is_bounded_and_present(default_env):
    env = default_env
    state, obs = jax.jit(env.reset)(jax.random.PRNGKey(5))
    sl = env.actor_layout.slices
    noise = np.asarray(obs.actor - obs.critic[: env.actor_layout.size])
    cfg = env.cfg.noise
    for name, scale in (
        ("gyro", cfg.gyro),
        ("gravity", cfg.gravity),
        ("joint_pos", cfg.joint_pos),
        ("joint_vel", cfg.joint_vel),
    ):
        assert np.abs(noise[sl[name]]).max() <= cfg.level * scale + 1e-6, name
        assert np.abs(noise[sl[name]]).max() > 0, name
    np.testing.assert_array_equal(noise[sl["command"]], 0.0)


def test_every_reward_term_is_reported(nominal_first_steps):
    env, _, _, _, _, out = nominal_first_steps
    assert set(out.reward_terms) == set(env.cfg.reward.term_names)
    total = sum(float(v) for v in out.reward_terms.values())
    assert float(out.reward) == pytest.approx(max(total, 0.0), abs=1e-6)


def test_push_kicks_base_velocity(default_env):
    """A push due this step adds a horizontal velocity within the configured magnitude."""
    env = default_env
    state, _ = jax.jit(env.reset)(jax.random.PRNGKey(9))
    due = state.replace(steps_to_push=jnp.int32(1))
    kicked = env._maybe_push(due, jax.random.PRNGKey(1), jax.random.PRNGKey(2))
    not_due = env._maybe_push(state.replace(steps_to_push=jnp.int32(5)), jax.random.PRNGKey(1), jax.random.PRNGKey(2))
    dv = np.linalg.norm(np.asarray(kicked.qvel[:2] - state.data.qvel[:2]))
    lo, hi = env.cfg.push.magnitude
    assert lo - 1e-6 <= dv <= hi + 1e-6 and dv > 0
    np.testing.assert_array_equal(not_due.qvel, state.data.qvel)
