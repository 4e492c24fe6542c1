"""Actuator lag: a per-env delay of the PD target, counted in physics substeps.

The buffer holds the last ``max_lag + 1`` commanded targets, newest first. Every substep the
current command is pushed, and the target actually applied is the one ``lag`` pushes old: with
``lag = d`` the PD tracks what was commanded d substeps (d * sim_dt seconds) earlier.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def init_buffer(target: jax.Array, max_lag: int) -> jax.Array:
    """A (max_lag + 1, nu) buffer filled with ``target`` (nu,), as if held since forever."""
    return jnp.broadcast_to(target, (max_lag + 1, target.shape[-1])).astype(jnp.float32)


def push(buffer: jax.Array, target: jax.Array) -> jax.Array:
    """Buffer (L+1, nu) with ``target`` (nu,) as newest entry and the oldest one dropped."""
    return jnp.concatenate([target[None].astype(buffer.dtype), buffer[:-1]], axis=0)


def read(buffer: jax.Array, lag: jax.Array) -> jax.Array:
    """The target (nu,) commanded ``lag`` substeps before the newest one (lag: int scalar)."""
    return jax.lax.dynamic_index_in_dim(buffer, lag, axis=0, keepdims=False)
