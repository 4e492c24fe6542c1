"""Gait clock: one phase per foot; a foot swings while its phase is in [0, pi)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def initial_phase() -> jax.Array:
    """(2,) rad: left foot starts swinging, right foot half a cycle later."""
    return jnp.array([0.0, -jnp.pi], jnp.float32)


def advance(phase: jax.Array, frequency: jax.Array, dt: float) -> jax.Array:
    """Phase (2,) rad advanced by 2*pi*frequency*dt, wrapped to [-pi, pi)."""
    return jnp.mod(phase + 2.0 * jnp.pi * frequency * dt + jnp.pi, 2.0 * jnp.pi) - jnp.pi


def swing_height(phase: jax.Array, apex: float) -> jax.Array:
    """Desired foot height (2,) m above the floor: apex * sin(phase) in swing, 0 in stance."""
    return apex * jnp.clip(jnp.sin(phase), 0.0, None)
