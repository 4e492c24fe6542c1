"""Joystick velocity commands: sampled per episode and re-sampled mid-episode."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mjx_walker.configs import CommandConfig, Range


def sample_command(key: jax.Array, cfg: CommandConfig) -> jax.Array:
    """A (3,) command [vx m/s, vy m/s, yaw rate rad/s]; all zero with prob. zero_command_prob.

    Each component is uniform in its range, or with prob. ``edge_prob`` one of the range's two ends.
    """
    key_x, key_y, key_yaw, key_zero = jax.random.split(key, 4)
    # the edge draws come from a folded key, so the uniform stream is the same for every edge_prob
    key_edge, key_end = jax.random.split(jax.random.fold_in(key, 1))
    ranges = jnp.array([cfg.lin_vel_x, cfg.lin_vel_y, cfg.yaw_rate], jnp.float32)  # (3, 2) lo, hi
    inside = jnp.stack(
        [
            jax.random.uniform(key_x, (), jnp.float32, *cfg.lin_vel_x),
            jax.random.uniform(key_y, (), jnp.float32, *cfg.lin_vel_y),
            jax.random.uniform(key_yaw, (), jnp.float32, *cfg.yaw_rate),
        ]
    )
    end = jnp.where(jax.random.bernoulli(key_end, 0.5, (3,)), ranges[:, 1], ranges[:, 0])
    cmd = jnp.where(jax.random.uniform(key_edge, (3,)) < cfg.edge_prob, end, inside)
    standing = jax.random.uniform(key_zero, ()) < cfg.zero_command_prob
    return jnp.where(standing, jnp.zeros_like(cmd), cmd)


def sample_interval(key: jax.Array, interval_s: Range, ctrl_dt: float) -> jax.Array:
    """A () int32 number of control steps drawn uniformly from ``interval_s`` seconds (>= 1)."""
    seconds = jax.random.uniform(key, (), jnp.float32, *interval_s)
    return jnp.maximum(jnp.round(seconds / ctrl_dt), 1).astype(jnp.int32)
