"""The CRC of Unitree ``unitree_hg`` low-level messages, in plain Python (no DDS needed).

The robot drops a ``LowCmd_`` whose ``crc`` does not match. The CRC is CRC-32/MPEG-2 (polynomial
0x04C11DB7, initial value 0xFFFFFFFF, no reflection, no final XOR) over the message packed as a
little-endian C struct with 4-byte alignment, read as 32-bit words, the last word (``crc``
itself) left out; each word enters most significant bit first.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

POLY = 0x04C11DB7
NUM_MOTORS = 35  # motor slots in a unitree_hg message (the G1 uses the first 29)
# Packed layouts (4-byte aligned, little-endian): 1004 and 2092 bytes.
LOW_CMD_FORMAT = "<2B2x" + "B3x5fI" * NUM_MOTORS + "5I"
LOW_STATE_FORMAT = "<2I2B2xI" + "13fh2x" + "B3x4f2hf7I" * NUM_MOTORS + "40B5I"


def _table() -> list[int]:
    """The byte-wise lookup table of the MSB-first CRC-32 with :data:`POLY`."""
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ POLY) if crc & 0x80000000 else (crc << 1)
        table.append(crc & 0xFFFFFFFF)
    return table


_TABLE = _table()


def crc32_mpeg2(data: bytes, crc: int = 0xFFFFFFFF) -> int:
    """CRC-32/MPEG-2 of ``data`` (its catalogue check value: ``crc32_mpeg2(b"123456789") == 0x0376E6E7``)."""
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _TABLE[((crc >> 24) ^ byte) & 0xFF]
    return crc


def packed_crc(packed: bytes) -> int:
    """The CRC of a packed message: its little-endian 32-bit words but the last, each fed MSB first."""
    words = struct.unpack(f"<{len(packed) // 4}I", packed)[:-1]
    return crc32_mpeg2(struct.pack(f">{len(words)}I", *words))


def pack_low_cmd(cmd: Any) -> bytes:  # noqa: ANN401 - a LowCmd_
    """A ``LowCmd_`` packed as :data:`LOW_CMD_FORMAT`."""
    fields: list[Any] = [cmd.mode_pr, cmd.mode_machine]
    for m in cmd.motor_cmd:
        fields += [m.mode, m.q, m.dq, m.tau, m.kp, m.kd, m.reserve]
    fields += [*cmd.reserve, cmd.crc]
    return struct.pack(LOW_CMD_FORMAT, *fields)


def pack_low_state(state: Any) -> bytes:  # noqa: ANN401 - a LowState_
    """A ``LowState_`` packed as :data:`LOW_STATE_FORMAT`."""
    imu = state.imu_state
    fields: list[Any] = [*state.version, state.mode_pr, state.mode_machine, state.tick]
    fields += [*imu.quaternion, *imu.gyroscope, *imu.accelerometer, *imu.rpy, imu.temperature]
    for m in state.motor_state:
        fields += [m.mode, m.q, m.dq, m.ddq, m.tau_est, *m.temperature, m.vol, *m.sensor, m.motorstate, *m.reserve]
    fields += [*state.wireless_remote, *state.reserve, state.crc]
    return struct.pack(LOW_STATE_FORMAT, *fields)


def low_cmd_crc(cmd: Any) -> int:  # noqa: ANN401
    """The ``crc`` a ``LowCmd_`` must carry."""
    return packed_crc(pack_low_cmd(cmd))


def low_state_crc(state: Any) -> int:  # noqa: ANN401
    """The ``crc`` a ``LowState_`` carries."""
    return packed_crc(pack_low_state(state))


def words(values: Sequence[int]) -> bytes:
    """32-bit words, big-endian, as the CRC consumes them (for checks against other implementations)."""
    return b"".join(int(v).to_bytes(4, "big") for v in values)
