"""Between ``unitree_hg`` messages and the runner's contract: readings, commands, the remote (NumPy only)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from mjx_walker.runner.unitree.crc import low_cmd_crc

MODE_ON = 1  # motor_cmd[i].mode: the motor servos to (q, kp, kd)
# The remote's 40 bytes in LowState_.wireless_remote: buttons (u16) at bytes 2-3, then floats.
BUTTONS = ("R1", "L1", "start", "select", "R2", "L2", "F1", "F2", "A", "B", "X", "Y", "up", "right", "down", "left")
_STICKS = {"lx": 4, "rx": 8, "ry": 12, "ly": 20}  # byte offsets of the sticks' float32 values


@dataclass(frozen=True)
class Remote:
    """The wireless remote: pressed buttons and stick deflections in [-1, 1] (x right, y forward)."""

    pressed: frozenset[str]
    lx: float
    ly: float
    rx: float
    ry: float

    def sticks(self) -> np.ndarray:
        """(3,) [forward, left, turn left] in [-1, 1], as :func:`mjx_walker.runner.teleop.stick_to_command` takes."""
        return np.array([self.ly, -self.lx, -self.rx])


def parse_remote(raw: Any) -> Remote:  # noqa: ANN401 - 40 bytes (a uint8 sequence)
    """The remote in ``LowState_.wireless_remote``."""
    data = bytes(bytearray(int(b) & 0xFF for b in raw))
    (bits,) = struct.unpack_from("<H", data, 2)
    pressed = frozenset(name for i, name in enumerate(BUTTONS) if bits >> i & 1)
    sticks = {k: float(np.clip(struct.unpack_from("<f", data, off)[0], -1.0, 1.0)) for k, off in _STICKS.items()}
    return Remote(pressed, **sticks)


def remote_bytes(
    pressed: set[str] | frozenset[str] = frozenset(), lx: float = 0, ly: float = 0, rx: float = 0
) -> list[int]:
    """40 remote bytes with these buttons held and sticks (the inverse of :func:`parse_remote`)."""
    data = bytearray(40)
    struct.pack_into("<H", data, 2, sum(1 << BUTTONS.index(b) for b in pressed))
    for key, value in (("lx", lx), ("ly", ly), ("rx", rx)):
        struct.pack_into("<f", data, _STICKS[key], float(value))
    return list(data)


def gravity_from_quaternion(quat: Any) -> np.ndarray:  # noqa: ANN401 - (4,) w, x, y, z
    """Unit gravity direction (3,) in the IMU frame from its orientation quaternion (IMU -> world)."""
    w, x, y, z = (float(v) for v in quat)
    norm = np.sqrt(w * w + x * x + y * y + z * z) or 1.0
    w, x, y, z = w / norm, x / norm, y / norm, z / norm
    # the third row of R(q), negated: R^T (0, 0, -1)
    return -np.array([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)])


def joint_readings(state: Any, motors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN401
    """(q (nu,) rad, dq (nu,) rad/s) of the policy's joints, read from their motor slots."""
    ms = state.motor_state
    return np.array([ms[i].q for i in motors], float), np.array([ms[i].dq for i in motors], float)


def fill_command(cmd: Any, motors: np.ndarray, q: np.ndarray, kp: np.ndarray, kd: np.ndarray, machine: int) -> Any:  # noqa: ANN401
    """Write position targets ``q`` (nu,) rad and gains into ``cmd``'s motor slots, set ``mode_machine``, sign it."""
    cmd.mode_machine = int(machine)
    for j, i in enumerate(motors):
        m = cmd.motor_cmd[int(i)]
        m.mode, m.q, m.dq, m.tau, m.kp, m.kd = MODE_ON, float(q[j]), 0.0, 0.0, float(kp[j]), float(kd[j])
    cmd.crc = low_cmd_crc(cmd)
    return cmd
