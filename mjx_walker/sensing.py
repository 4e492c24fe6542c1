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


def tilt_rotation(roll, pitch):  # noqa: ANN001, ANN201 - NumPy or JAX scalars
    """Rotation (3, 3) of an IMU mounted tilted by ``roll`` about x, then ``pitch`` about y (rad)."""
    xp = xp_of(roll, pitch)
    cr, sr, cp, sp = xp.cos(roll), xp.sin(roll), xp.cos(pitch), xp.sin(pitch)
    zero, one = xp.zeros_like(cr), xp.ones_like(cr)
    rx = xp.stack([xp.stack([one, zero, zero]), xp.stack([zero, cr, -sr]), xp.stack([zero, sr, cr])])
    ry = xp.stack([xp.stack([cp, zero, sp]), xp.stack([zero, one, zero]), xp.stack([-sp, zero, cp])])
    return rx @ ry


def imu_error(meas: Measurement, gyro_bias, tilt) -> Measurement:  # noqa: ANN001
    """The readings of an IMU with a gyro bias and a mounting tilt, from the true ones.

    ``gyro_bias`` (3,) rad/s is added to the rate; ``tilt`` (2,) rad (roll, pitch) rotates the
    IMU's frame, so both the rate and the gravity direction are seen in the tilted frame. The
    drift of a real gyro bias over one episode is small; it is held constant.
    """
    rot = tilt_rotation(tilt[0], tilt[1])
    return meas._replace(gyro=rot.T @ meas.gyro + gyro_bias, gravity=rot.T @ meas.gravity)


def fell(root_rot, base_height, max_tilt_rad: float, min_height: float):  # noqa: ANN001, ANN201
    """True where the base is tilted beyond ``max_tilt_rad`` from upright or lower than ``min_height`` m.

    ``root_rot`` (3, 3): the base's orientation (base frame -> world); ``base_height``: m. A
    non-finite state is a separate test (training counts it apart, as a physics failure).
    """
    xp = xp_of(root_rot, base_height)
    return (root_rot[2, 2] < xp.cos(max_tilt_rad)) | (base_height < min_height)
