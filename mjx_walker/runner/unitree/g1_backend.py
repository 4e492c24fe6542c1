"""The Unitree G1 over its own DDS protocol (``rt/lowcmd``, ``rt/lowstate``, ``unitree_hg`` types).

``read_state`` maps the newest ``LowState_`` into the runner's contract (joints in the policy's
order through the robot registry's motor map, gyro, gravity from the IMU quaternion), stamped
with its local arrival time on the wall clock, so the safety layer sees a silent robot as stale
data; a ``tick`` that stops advancing is treated the same way. ``write_targets`` and ``damp``
sign a ``LowCmd_`` (``mode_machine`` copied from the latest state) and publish it; a 500 Hz
thread republishes the latest command between control ticks, as the robot expects.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from mjx_walker.robots import ROBOTS
from mjx_walker.runner.backend import BackendError, RobotBackend, RobotState, WallClock
from mjx_walker.runner.safety import SafetyError
from mjx_walker.runner.unitree import dds
from mjx_walker.runner.unitree.hg_types import LOW_CMD_TOPIC, LOW_STATE_TOPIC, LowCmd_, LowState_
from mjx_walker.runner.unitree.messages import (
    Remote,
    fill_command,
    gravity_from_quaternion,
    joint_readings,
    parse_remote,
)

RESEND_HZ = 500.0


def motor_slots(robot: str, joint_names: list[str] | tuple[str, ...]) -> np.ndarray:
    """Motor slot (nu,) of each of the policy's joints, from the robot registry; SafetyError if one is missing."""
    table = ROBOTS[robot].motor_index if robot in ROBOTS else None
    if not table:
        raise SafetyError(f"robot = {robot!r}: the registry has no motor map for it (known: g1)")
    missing = [n for n in joint_names if n not in table]
    if missing:
        raise SafetyError(f"joint_names: {missing} have no motor slot in {robot}'s map")
    return np.array([table[n] for n in joint_names])


class UnitreeG1Backend(RobotBackend):
    """A G1 (real, or :mod:`.fake_g1`) on DDS ``domain_id`` over network ``interface``."""

    def __init__(
        self,
        joint_names: list[str] | tuple[str, ...],
        domain_id: int,
        interface: str,
        real: bool = False,
        robot: str = "g1",
    ) -> None:
        """Join the robot's DDS domain; refuse the real robot's domain (0) unless ``real``."""
        if domain_id == dds.REAL_DOMAIN and not real:
            raise SafetyError(
                f"domain_id = {domain_id} is the real robot's network: pass --real to drive a real G1 "
                "(a simulated one, python -m mjx_walker.runner.unitree.fake_g1, runs on another domain, e.g. 1)"
            )
        self.clock = WallClock()
        self.motors = motor_slots(robot, joint_names)
        self.nu = len(self.motors)
        self._domain, self._dp = dds.participant(domain_id, interface)
        self._writer, self._reader, self._latest = dds.endpoints(
            self._dp, LOW_STATE_TOPIC, LowState_, LOW_CMD_TOPIC, LowCmd_
        )
        self._cmd_lock = threading.Lock()
        self._cmd: LowCmd_ | None = None
        self.sent = 0
        self._tick: tuple[int, float] | None = None  # (last tick, local time it was first seen)
        self.latency_s: list[float] = []  # newest state's arrival -> command published, per control tick
        self._stop = threading.Event()
        self._resender = threading.Thread(target=self._resend, name="g1-resend", daemon=True)
        self._resender.start()
        print(
            f"unitree_g1: DDS domain {domain_id} on interface {interface!r} ({'REAL robot' if real else 'simulated'})"
        )

    # ------------------------------------------------------------------ reading
    def wait_for_state(self, timeout_s: float) -> bool:
        """Whether a LowState_ arrives within ``timeout_s`` seconds."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            if self._latest.get()[0] is not None:
                return True
            time.sleep(0.005)
        return False

    def read_state(self) -> RobotState:
        """The newest state, stamped with its arrival (or, if its tick stalled, when the tick last moved)."""
        state, arrived = self._latest.get()
        if state is None:
            raise BackendError("no LowState_ received yet from the robot (wait for state first)")
        stamp = self._fresh_since(int(state.tick), float(arrived))
        q, dq = joint_readings(state, self.motors)
        imu = state.imu_state
        return RobotState(
            timestamp=stamp,
            joint_pos=q,
            joint_vel=dq,
            gyro=np.asarray(imu.gyroscope, float),
            gravity=gravity_from_quaternion(imu.quaternion),
        )

    def _fresh_since(self, tick: int, arrived: float) -> float:
        """The reading's time: its arrival, unless ``tick`` did not move since an earlier arrival."""
        if self._tick is None or self._tick[0] != tick:
            self._tick = (tick, arrived)
        return self._tick[1]

    def remote(self) -> Remote | None:
        """The wireless remote in the newest state (None before the first)."""
        state, _ = self._latest.get()
        return None if state is None else parse_remote(state.wireless_remote)

    def mode_machine(self) -> int:
        """The robot's ``mode_machine`` (0 before the first state)."""
        state, _ = self._latest.get()
        return 0 if state is None else int(state.mode_machine)

    # ---------------------------------------------------------------- commanding
    def write_targets(self, targets: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> None:
        """Publish position targets (nu,) rad with gains, motors on (mode 1)."""
        cmd = fill_command(
            LowCmd_(), self.motors, np.asarray(targets), np.asarray(kp), np.asarray(kd), self.mode_machine()
        )
        self._publish(cmd)
        arrived = self._latest.get()[1]
        if arrived is not None:
            self.latency_s.append(time.perf_counter() - arrived)

    def damp(self, kd: np.ndarray) -> None:
        """Publish damping: kp = 0, ``kd`` (nu,), targets at the measured joints."""
        state, _ = self._latest.get()
        q = joint_readings(state, self.motors)[0] if state is not None else np.zeros(self.nu)
        self._publish(fill_command(LowCmd_(), self.motors, q, np.zeros(self.nu), np.asarray(kd), self.mode_machine()))

    def _publish(self, cmd: LowCmd_) -> None:
        """Make ``cmd`` the latest command and send it now."""
        with self._cmd_lock:
            self._cmd = cmd
            self._writer.write(cmd)
            self.sent += 1

    def _resend(self) -> None:
        """Republish the latest command at :data:`RESEND_HZ` until closed."""
        period = 1.0 / RESEND_HZ
        next_at = time.perf_counter()
        while not self._stop.is_set():
            next_at += period
            with self._cmd_lock:
                if self._cmd is not None:
                    self._writer.write(self._cmd)
                    self.sent += 1
            time.sleep(max(0.0, next_at - time.perf_counter()))

    def close(self) -> None:
        """Stop resending (the robot's own command timeout then damps it) and leave the domain."""
        self._stop.set()
        self._resender.join(timeout=1.0)
        self._reader.set_listener(None)  # no callback may run while the interpreter tears the reader down

    def __repr__(self) -> str:
        """What the runner prints about this backend."""
        return f"UnitreeG1Backend({self.nu} joints)"
