"""Gait clock: one phase per foot; a foot swings while its phase is in [0, pi).

Part of the contract between training and robot (NumPy or JAX arrays, JAX never imported here):
the environment advances the clock in its step, the runner in its control loop.
"""

from __future__ import annotations

import math

import numpy as np

from mjx_walker._xp import xp_of

INITIAL_PHASE = (0.0, -math.pi)  # rad: left foot starts swinging, right foot half a cycle later


def initial_phase() -> np.ndarray:
    """(2,) float32 rad: :data:`INITIAL_PHASE`."""
    return np.array(INITIAL_PHASE, np.float32)


def advance(phase, frequency, dt: float):  # noqa: ANN001, ANN201 - NumPy or JAX arrays
    """Phase (2,) rad advanced by 2*pi*frequency*dt (frequency in Hz, dt in s), wrapped to [-pi, pi)."""
    xp = xp_of(phase, frequency)
    return xp.mod(phase + 2.0 * math.pi * frequency * dt + math.pi, 2.0 * math.pi) - math.pi


def swing_height(phase, apex: float):  # noqa: ANN001, ANN201 - NumPy or JAX arrays
    """Desired foot height (2,) m above the floor: apex * sin(phase) in swing, 0 in stance."""
    xp = xp_of(phase)
    return apex * xp.clip(xp.sin(phase), 0.0, None)
