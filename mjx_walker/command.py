"""Joystick velocity commands: sampled per episode and re-sampled mid-episode."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mjx_walker.configs import CommandConfig, Range


def sample_command(key: jax.Array, cfg: CommandConfig) -> jax.Array:
    """A (3,) command [vx m/s, vy m/s, yaw rate rad/s]; all zero with prob. zero_command_prob."""
    key_x, key_y, key_yaw, key_zero = jax.random.split(key, 4)
    cmd = jnp.stack(
        [
            jax.random.uniform(key_x, (), jnp.float32, *cfg.lin_vel_x),
            jax.random.uniform(key_y, (), jnp.float32, *cfg.lin_vel_y),
            jax.random.uniform(key_yaw, (), jnp.float32, *cfg.yaw_rate),
        ]
    )
    standing = jax.random.uniform(key_zero, ()) < cfg.zero_command_prob
    return jnp.where(standing, jnp.zeros_like(cmd), cmd)


def sample_interval(key: jax.Array, interval_s: Range, ctrl_dt: float) -> jax.Array:
    """A () int32 number of control steps drawn uniformly from ``interval_s`` seconds (>= 1)."""
    seconds = jax.random.uniform(key, (), jnp.float32, *interval_s)
    return jnp.maximum(jnp.round(seconds / ctrl_dt), 1).astype(jnp.int32)
