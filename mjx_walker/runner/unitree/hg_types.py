"""The ``unitree_hg`` DDS message types the G1 speaks, with Unitree's type names and field order.

Written here rather than taken from Unitree's SDK: its Python package pins cyclonedds 0.10, which
has no wheel for current Pythons, and fails to import with the cyclonedds that installs. The wire
format is fixed by the type names and field order below (checked against Unitree's IDL).
"""

# No ``from __future__ import annotations``: cyclonedds reads the field types from evaluated annotations.
from dataclasses import dataclass, field

import cyclonedds.idl as idl
import cyclonedds.idl.annotations as annotate
import cyclonedds.idl.types as types

from mjx_walker.runner.unitree.crc import NUM_MOTORS

LOW_CMD_TOPIC = "rt/lowcmd"
LOW_STATE_TOPIC = "rt/lowstate"


@dataclass
@annotate.final
@annotate.autoid("sequential")
class MotorCmd_(idl.IdlStruct, typename="unitree_hg.msg.dds_.MotorCmd_"):  # noqa: N801 - the wire name
    """One motor's command: mode (1 = on), position target q (rad), dq, feed-forward tau, gains."""

    mode: types.uint8 = 0
    q: types.float32 = 0.0
    dq: types.float32 = 0.0
    tau: types.float32 = 0.0
    kp: types.float32 = 0.0
    kd: types.float32 = 0.0
    reserve: types.uint32 = 0


@dataclass
@annotate.final
@annotate.autoid("sequential")
class LowCmd_(idl.IdlStruct, typename="unitree_hg.msg.dds_.LowCmd_"):  # noqa: N801
    """The command to all motors; ``mode_machine`` repeats the robot's, ``crc`` covers the rest."""

    mode_pr: types.uint8 = 0
    mode_machine: types.uint8 = 0
    motor_cmd: types.array[MotorCmd_, NUM_MOTORS] = field(
        default_factory=lambda: [MotorCmd_() for _ in range(NUM_MOTORS)]
    )
    reserve: types.array[types.uint32, 4] = field(default_factory=lambda: [0] * 4)
    crc: types.uint32 = 0


@dataclass
@annotate.final
@annotate.autoid("sequential")
class IMUState_(idl.IdlStruct, typename="unitree_hg.msg.dds_.IMUState_"):  # noqa: N801
    """The IMU: quaternion (w, x, y, z), gyroscope rad/s, accelerometer m/s², roll-pitch-yaw, temperature."""

    quaternion: types.array[types.float32, 4] = field(default_factory=lambda: [1.0, 0.0, 0.0, 0.0])
    gyroscope: types.array[types.float32, 3] = field(default_factory=lambda: [0.0] * 3)
    accelerometer: types.array[types.float32, 3] = field(default_factory=lambda: [0.0] * 3)
    rpy: types.array[types.float32, 3] = field(default_factory=lambda: [0.0] * 3)
    temperature: types.int16 = 0


@dataclass
@annotate.final
@annotate.autoid("sequential")
class MotorState_(idl.IdlStruct, typename="unitree_hg.msg.dds_.MotorState_"):  # noqa: N801
    """One motor's state: position q (rad), dq, ddq, estimated torque, temperatures, voltage, flags."""

    mode: types.uint8 = 0
    q: types.float32 = 0.0
    dq: types.float32 = 0.0
    ddq: types.float32 = 0.0
    tau_est: types.float32 = 0.0
    temperature: types.array[types.int16, 2] = field(default_factory=lambda: [0, 0])
    vol: types.float32 = 0.0
    sensor: types.array[types.uint32, 2] = field(default_factory=lambda: [0, 0])
    motorstate: types.uint32 = 0
    reserve: types.array[types.uint32, 4] = field(default_factory=lambda: [0] * 4)


@dataclass
@annotate.final
@annotate.autoid("sequential")
class LowState_(idl.IdlStruct, typename="unitree_hg.msg.dds_.LowState_"):  # noqa: N801
    """The robot's state, published at 500 Hz: ``tick`` (ms), the IMU, every motor, the remote's 40 bytes."""

    version: types.array[types.uint32, 2] = field(default_factory=lambda: [0, 0])
    mode_pr: types.uint8 = 0
    mode_machine: types.uint8 = 0
    tick: types.uint32 = 0
    imu_state: IMUState_ = field(default_factory=IMUState_)
    motor_state: types.array[MotorState_, NUM_MOTORS] = field(
        default_factory=lambda: [MotorState_() for _ in range(NUM_MOTORS)]
    )
    wireless_remote: types.array[types.uint8, 40] = field(default_factory=lambda: [0] * 40)
    reserve: types.array[types.uint32, 4] = field(default_factory=lambda: [0] * 4)
    crc: types.uint32 = 0
