"""Reward terms against hand-computed values."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from mjx_walker import gait, rewards
from mjx_walker.configs import RewardConfig


def test_tracking_kernels():
    cmd = jnp.array([1.0, 0.0, 0.5])
    assert float(rewards.tracking_lin_vel(cmd, jnp.array([1.0, 0.0, 9.0]), 0.25)) == pytest.approx(1.0)
    # |(1,0)-(0.5,0.5)|^2 = 0.5 -> exp(-2)
    assert float(rewards.tracking_lin_vel(cmd, jnp.array([0.5, 0.5, 0.0]), 0.25)) == pytest.approx(
        np.exp(-2.0), rel=1e-6
    )
    assert float(rewards.tracking_ang_vel(cmd, jnp.array([0.0, 0.0, 0.0]), 0.25)) == pytest.approx(
        np.exp(-1.0), rel=1e-6
    )


def test_penalties_hand_computed():
    assert float(rewards.orientation(jnp.array([0.0, 0.0, -1.0]))) == 0.0
    assert float(rewards.orientation(jnp.array([0.6, 0.0, -0.8]))) == pytest.approx(0.36)
    assert float(rewards.action_rate(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0]))) == pytest.approx(5.0)
    assert float(rewards.energy(jnp.array([2.0, -3.0]), jnp.array([1.0, 1.0]))) == pytest.approx(5.0)
    q = jnp.array([-1.2, 0.0, 1.5])
    lo, hi = jnp.array([-1.0, -1.0, -1.0]), jnp.array([1.0, 1.0, 1.0])
    assert float(rewards.joint_limits(q, lo, hi)) == pytest.approx(0.2 + 0.5)
    slip = rewards.feet_slip(jnp.array([True, False]), jnp.array([0.5, 3.0]))
    assert float(slip) == pytest.approx(0.25)


def test_air_time_pays_only_at_touchdown_while_moving():
    moving = jnp.array([0.5, 0.0, 0.0])
    air = jnp.array([0.5, 0.1])
    first = jnp.array([True, False])
    assert float(rewards.feet_air_time(air, first, 0.2, moving)) == pytest.approx(0.3)
    assert float(rewards.feet_air_time(air, first, 0.2, jnp.zeros(3))) == 0.0
    # long flights pay at most 0.3 s
    assert float(rewards.feet_air_time(jnp.array([2.0, 0.0]), first, 0.2, moving)) == pytest.approx(0.3)


def test_pose_cost_is_weighted():
    q, default = jnp.array([0.5, 0.5]), jnp.zeros(2)
    assert float(rewards.pose(q, default, jnp.array([1.0, 0.01]))) == pytest.approx(0.25 + 0.0025)


def test_gait_clock():
    phase = gait.initial_phase()
    np.testing.assert_allclose(gait.swing_height(phase + jnp.array([jnp.pi / 2, 0.0]), 0.1), [0.1, 0.0], atol=1e-6)
    advanced = gait.advance(phase, jnp.float32(1.0), 0.25)  # a quarter cycle
    np.testing.assert_allclose(advanced, [np.pi / 2, -np.pi / 2], atol=1e-6)
    assert float(jnp.max(gait.advance(jnp.array([3.0, 3.1]), jnp.float32(1.0), 0.1))) < np.pi


def test_weighted_terms_scale_and_clip():
    cfg = RewardConfig()
    terms = {name: jnp.float32(0.0) for name in cfg.term_names}
    terms["orientation"] = jnp.float32(-0.5)
    assert float(rewards.total_reward(terms, cfg)) == 0.0  # clipped at zero
    cfg_noclip = RewardConfig(clip_total_at_zero=False)
    assert float(rewards.total_reward(terms, cfg_noclip)) == pytest.approx(-0.5)
