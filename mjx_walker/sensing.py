"""What the robot's state says: its sensor readings, the IMU measurement and the fall test.

Part of the contract between training and robot (NumPy or JAX arrays, JAX never imported here):
the environment measures and terminates with these, the runner's MuJoCo backend reads its IMU and
``evaluate`` counts falls with them, so a sim-to-sim episode ends exactly where training's would.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from mjx_walker._xp import xp_of


class Measurement(NamedTuple):
    """What the robot's own sensors report: IMU and joint encoders (NumPy or JAX arrays; a JAX pytree)."""

    gyro: Any  # (3,) rad/s, angular velocity in the IMU frame
    gravity: Any  # (3,) unit gravity direction in the IMU frame ((0, 0, -1) upright)
    joint_pos: Any  # (nu,) rad
    joint_vel: Any  # (nu,) rad/s


def imu_reading(imu_rot, world_angvel):  # noqa: ANN001, ANN201 - NumPy or JAX arrays
    """Gyro (3,) rad/s and unit gravity direction (3,) in the IMU frame ((0, 0, -1) upright).

    ``imu_rot`` (3, 3): the IMU site's orientation (IMU frame -> world); ``world_angvel`` (3,)
    rad/s: the angular velocity of the body carrying the IMU, in the world frame.
    """
    xp = xp_of(imu_rot, world_angvel)
    return imu_rot.T @ world_angvel, imu_rot.T @ xp.asarray([0.0, 0.0, -1.0])


def fell(root_rot, base_height, max_tilt_rad: float, min_height: float):  # noqa: ANN001, ANN201
    """True where the base is tilted beyond ``max_tilt_rad`` from upright or lower than ``min_height`` m.

    ``root_rot`` (3, 3): the base's orientation (base frame -> world); ``base_height``: m. A
    non-finite state is a separate test (training counts it apart, as a physics failure).
    """
    xp = xp_of(root_rot, base_height)
    return (root_rot[2, 2] < xp.cos(max_tilt_rad)) | (base_height < min_height)
