"""Actuator lag: a delay of the PD target, counted in physics substeps.

The buffer holds the last ``max_lag + 1`` commanded targets, newest first. Every substep the
current command is pushed, and the target actually applied is the one ``lag`` pushes old: with
``lag = d`` the PD tracks what was commanded d substeps (d * sim_dt seconds) earlier.

Part of the contract between training and robot (NumPy or JAX arrays, JAX never imported here):
the environment delays its targets with it, and so does the runner's MuJoCo backend.
"""

from __future__ import annotations

from mjx_walker._xp import xp_of


def init_buffer(target, max_lag: int):  # noqa: ANN001, ANN201 - NumPy or JAX arrays
    """A (max_lag + 1, nu) buffer filled with ``target`` (nu,), as if held since forever."""
    xp = xp_of(target)
    return xp.tile(xp.asarray(target)[None], (max_lag + 1, 1))


def push(buffer, target):  # noqa: ANN001, ANN201 - NumPy or JAX arrays
    """Buffer (L+1, nu) with ``target`` (nu,) as newest entry and the oldest one dropped."""
    xp = xp_of(buffer, target)
    return xp.concatenate([xp.asarray(target, buffer.dtype)[None], buffer[:-1]], axis=0)


def read(buffer, lag):  # noqa: ANN001, ANN201 - NumPy or JAX arrays
    """The target (nu,) commanded ``lag`` substeps before the newest one (lag: int scalar, traced or not)."""
    return buffer[lag]


def schedule(buffer, target, lag, n_substeps: int):  # noqa: ANN001, ANN201 - NumPy or JAX arrays
    """Push ``target`` (nu,) for ``n_substeps`` substeps; the buffer after them and each substep's applied target.

    Returns (buffer (L+1, nu), applied (n_substeps, nu)): the target the PD law tracks at each
    substep, ``lag`` pushes old, as :func:`push` then :func:`read` give it substep by substep.
    """
    xp = xp_of(buffer, target)
    applied = []
    for _ in range(n_substeps):
        buffer = push(buffer, target)
        applied.append(read(buffer, lag))
    return buffer, xp.stack(applied)
