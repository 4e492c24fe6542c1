"""The joint PD law: the one formula the simulator and the robot runner both use."""

from __future__ import annotations

from mjx_walker._xp import xp_of


def pd_torque(q, qd, target, kp, kd, torque_limit):  # noqa: ANN001, ANN201 - NumPy or JAX arrays
    """Joint torque (nu,) N·m = clip(kp * (target - q) - kd * qd, +-torque_limit).

    q, target: (nu,) rad; qd: (nu,) rad/s; kp (nu,) N·m/rad; kd (nu,) N·m·s/rad;
    torque_limit (nu,) N·m. Works on NumPy and JAX arrays alike.
    """
    xp = xp_of(q, qd, target, kp, kd)
    return xp.clip(kp * (target - q) - kd * qd, -torque_limit, torque_limit)
