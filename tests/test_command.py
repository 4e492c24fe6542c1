"""Command sampling: ranges, the standing share, and edge_prob (draws at the ends of each range)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from mjx_walker.command import sample_command
from mjx_walker.configs import CommandConfig, ConfigError

N = 4000


def _draws(cfg: CommandConfig, seed: int = 0) -> np.ndarray:
    """(N, 3) commands drawn with N independent keys."""
    keys = jax.random.split(jax.random.PRNGKey(seed), N)
    return np.asarray(jax.jit(jax.vmap(lambda k: sample_command(k, cfg)))(keys))


def test_edge_prob_puts_that_share_of_each_component_at_the_ends():
    """With edge_prob 0.4, 0.4 x 0.9 (not standing) of each component sits exactly at lo or hi, half each."""
    cfg = CommandConfig(lin_vel_x=(-0.5, 0.8), lin_vel_y=(-0.3, 0.3), yaw_rate=(-0.7, 0.7), edge_prob=0.4)
    cmd = _draws(cfg)
    standing = (cmd == 0).all(axis=1)
    moving = cmd[~standing]
    for i, (lo, hi) in enumerate((cfg.lin_vel_x, cfg.lin_vel_y, cfg.yaw_rate)):
        col = moving[:, i]
        assert col.min() >= np.float32(lo) and col.max() <= np.float32(hi)
        at_lo, at_hi = np.mean(col == np.float32(lo)), np.mean(col == np.float32(hi))
        # binomial sd of a share 0.2 over ~3600 draws is 0.007: 0.04 is > 5 sd
        assert abs(at_lo - 0.2) < 0.04 and abs(at_hi - 0.2) < 0.04, (i, at_lo, at_hi)
    # all three at an end (a corner of the box): 0.4**3 = 0.064, vs 0 for uniform draws
    corners = np.all(
        [np.isin(moving[:, i], np.float32(r)) for i, r in enumerate((cfg.lin_vel_x, cfg.lin_vel_y, cfg.yaw_rate))],
        axis=0,
    )
    assert abs(corners.mean() - 0.064) < 0.025
    assert abs(standing.mean() - cfg.zero_command_prob) < 0.025


def test_edge_prob_zero_keeps_uniform_draws_and_the_same_stream():
    """edge_prob 0 puts nothing at the ends, and the inside draws do not depend on edge_prob."""
    plain, edgy = CommandConfig(), CommandConfig(edge_prob=0.5)
    a, b = _draws(plain, seed=3), _draws(edgy, seed=3)
    ends = np.array([plain.lin_vel_x, plain.lin_vel_y, plain.yaw_rate], np.float32)
    assert not np.isin(a[:, 0], ends[0]).any() and not np.isin(a[:, 2], ends[2]).any()
    not_edge = ~np.isin(b, ends.ravel())  # components edgy drew inside its range equal the plain draws
    assert not_edge.mean() > 0.4
    np.testing.assert_array_equal(a[not_edge], b[not_edge])


def test_edge_prob_outside_0_1_is_refused():
    """The error names the field, the value and the allowed range."""
    with pytest.raises(ConfigError, match=r"CommandConfig\.edge_prob = 1\.5.*\[0\.0, 1\.0\]"):
        CommandConfig(edge_prob=1.5)
