"""Pick NumPy or jax.numpy for functions shared by the JAX environment and the NumPy runner."""

from __future__ import annotations

from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np


def xp_of(*arrays: object) -> ModuleType:
    """jax.numpy if any argument is a JAX array or tracer, else NumPy."""
    return jnp if any(isinstance(a, jax.Array) for a in arrays) else np
