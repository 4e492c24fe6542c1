"""Pick NumPy or jax.numpy for functions shared by the JAX environment and the NumPy runner.

JAX is never imported here: if it is not loaded already, no argument can be a JAX array, so
the runner (which runs without JAX on the robot) gets NumPy.
"""

from __future__ import annotations

import sys
from types import ModuleType

import numpy as np


def xp_of(*arrays: object) -> ModuleType:
    """jax.numpy if any argument is a JAX array or tracer, else NumPy."""
    jax = sys.modules.get("jax")
    if jax is not None and any(isinstance(a, jax.Array) for a in arrays):
        import jax.numpy as jnp

        return jnp
    return np
