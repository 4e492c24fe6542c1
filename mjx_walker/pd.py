"""The joint PD law: the one formula the simulator and the robot runner both use.

Backlash is a dead band of half-width ``backlash`` (rad) on the position error: the gear train
has play, so the target pulls on the joint only once the error exceeds the play, and then by the
excess. Damping acts on the joint's velocity as before.
"""

from __future__ import annotations

from mjx_walker._xp import xp_of


def dead_band(error, width):  # noqa: ANN001, ANN201 - NumPy or JAX arrays
    """``error`` with the band ``[-width, width]`` removed: 0 inside it, ``error -+ width`` outside.

    error: (...,) rad; width: (...,) rad >= 0, broadcast against it.
    """
    xp = xp_of(error, width)
    return error - xp.clip(error, -width, width)


def pd_torque(q, qd, target, kp, kd, torque_limit, backlash=0.0):  # noqa: ANN001, ANN201
    """Joint torque (nu,) N·m = clip(kp * dead_band(target - q, backlash) - kd * qd, +-torque_limit).

    q, target: (nu,) rad; qd: (nu,) rad/s; kp (nu,) N·m/rad; kd (nu,) N·m·s/rad;
    torque_limit (nu,) N·m; backlash: () or (nu,) rad, the dead band's half-width (0: none).
    Works on NumPy and JAX arrays alike.
    """
    xp = xp_of(q, qd, target, kp, kd)
    return xp.clip(kp * dead_band(target - q, backlash) - kd * qd, -torque_limit, torque_limit)


def servo_target(target, q, backlash):  # noqa: ANN001, ANN201
    """The target (..., nu) rad that a plain PD servo at ``q`` turns into :func:`pd_torque`'s backlash torque.

    A position servo applies ``kp * (ctrl - q)``; with ``ctrl = q + dead_band(target - q, backlash)``
    that is ``kp * dead_band(target - q, backlash)``, exactly at this ``q``. MuJoCo C training
    servos take one target per substep, set before the control step, so they pass the joint
    positions predicted from its start (position plus velocity times time): the dead band is exact
    at the first substep and near it after (``tests/test_backlash.py`` bounds the difference).
    """
    return q + dead_band(target - q, backlash)
