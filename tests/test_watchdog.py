"""The watchdog thread, and the backend's heartbeat and e-stop hooks.

A backend call that blocks (for a second, or for good) must not leave the motors holding the last
targets: the watchdog damps them from its own thread within ``watchdog_timeout_s`` of the last
command. These run on the wall clock (the watchdog is for real time), a second or two each.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from runner_helpers import ZeroPolicy, small_meta

from mjx_walker.runner.backend import RobotBackend, RobotState, SimClock, WallClock
from mjx_walker.runner.loop import run_loop
from mjx_walker.runner.safety import SafetyConfig, SafetyError

TIMEOUT_S = 0.1
CFG = SafetyConfig(ramp_duration_s=0.0, watchdog_timeout_s=TIMEOUT_S)
SLACK_S = 0.06  # thread wake-up on a busy machine


class BlockingBackend(RobotBackend):
    """Stands in its default pose; logs (monotonic s, call, thread) and blocks where told.

    ``write_blocks_s``: write number ``block_at`` sleeps this long. ``read_gate``: read number
    ``block_at`` waits on this event (set it to let the call return).
    """

    def __init__(
        self,
        meta: object,
        clock: object = None,
        block_at: int = 5,
        write_blocks_s: float = 0.0,
        read_gate: threading.Event | None = None,
    ) -> None:
        self.meta, self.clock = meta, clock or WallClock()
        self.block_at, self.write_blocks_s, self.read_gate = block_at, write_blocks_s, read_gate
        self.log: list[tuple[float, str, str]] = []
        self.reads = self.writes = 0
        self.estop_at: float | None = None  # clock s from which estop() is True

    def note(self, call: str) -> None:
        """Log a call with its wall time and thread."""
        self.log.append((time.monotonic(), call, threading.current_thread().name))

    def read_state(self) -> RobotState:
        """The default pose, now; read ``block_at`` waits for ``read_gate``."""
        self.reads += 1
        if self.read_gate is not None and self.reads == self.block_at:
            self.note("read blocks")
            self.read_gate.wait()
        pos = np.asarray(self.meta.default_joint_pos, float)  # type: ignore[attr-defined]
        return RobotState(self.clock.now(), pos, np.zeros_like(pos), np.zeros(3), np.array([0.0, 0.0, -1.0]))

    def write_targets(self, targets: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> None:
        """Log; write ``block_at`` sleeps ``write_blocks_s``."""
        self.writes += 1
        self.note("write")
        if self.writes == self.block_at and self.write_blocks_s:
            self.note("write blocks")
            time.sleep(self.write_blocks_s)
            self.note("write returns")

    def damp(self, kd: np.ndarray) -> None:
        """Log."""
        self.note("damp")

    def estop(self) -> bool:
        """Pressed from ``estop_at`` on."""
        return self.estop_at is not None and self.clock.now() >= self.estop_at


def watchdog_damps(backend: BlockingBackend) -> list[float]:
    """Wall times of the damps the watchdog thread sent."""
    return [t for t, call, thread in backend.log if call == "damp" and thread == "mjx_walker-watchdog"]


def last_command_before(backend: BlockingBackend, t: float) -> float:
    """Wall time of the loop's last write or damp before ``t``."""
    return max(
        s for s, call, thread in backend.log if call in ("write", "damp") and thread != "mjx_walker-watchdog" and s < t
    )


def test_write_blocking_for_a_second_is_damped_within_the_timeout():
    meta = small_meta()
    backend = BlockingBackend(meta, write_blocks_s=1.0)
    stats = run_loop(backend, ZeroPolicy(meta), meta, np.zeros(3), 1.5, CFG)
    fired = watchdog_damps(backend)
    assert fired, backend.log
    blocked = next(t for t, call, _ in backend.log if call == "write blocks")
    returned = next(t for t, call, _ in backend.log if call == "write returns")
    assert blocked < fired[0] < returned  # while the loop was stuck in the backend
    # the watchdog counts from the last command sent: the write before the blocked one
    writes = [t for t, call, _ in backend.log if call == "write"]
    idle = fired[0] - writes[backend.block_at - 2]
    assert TIMEOUT_S - 1e-3 <= idle <= TIMEOUT_S + SLACK_S, idle
    # once back, the loop latches damping: nothing but damps after the blocked write returned
    after = [call for t, call, thread in backend.log if t > returned and thread != "mjx_walker-watchdog"]
    assert after and set(after) == {"damp"}, after
    assert stats.final_mode == "damping" and stats.trip_reason.startswith("watchdog: no command sent for")


def test_a_read_that_never_returns_is_damped():
    meta = small_meta()
    gate = threading.Event()
    backend = BlockingBackend(meta, read_gate=gate, block_at=6)
    result: dict[str, object] = {}

    def body() -> None:
        """The loop, on a thread: its read blocks until the test opens the gate."""
        result["stats"] = run_loop(backend, ZeroPolicy(meta), meta, np.zeros(3), 2.0, CFG)

    loop = threading.Thread(target=body, daemon=True)
    loop.start()
    deadline = time.monotonic() + 10.0
    while len(watchdog_damps(backend)) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    fired = watchdog_damps(backend)
    assert len(fired) >= 3, backend.log  # damps again every timeout while the loop stays stuck
    stuck = next(t for t, call, _ in backend.log if call == "read blocks")
    assert stuck < fired[0] and fired[0] - last_command_before(backend, fired[0]) <= TIMEOUT_S + SLACK_S
    assert np.all(np.diff(fired[:3]) >= TIMEOUT_S - 1e-3)
    gate.set()  # the call returns at last; the loop must not resume the policy
    loop.join(timeout=20.0)
    assert not loop.is_alive()
    stats = result["stats"]
    assert stats.final_mode == "damping" and stats.trip_reason.startswith("watchdog")
    released = max(t for t, call, _ in backend.log if call == "read blocks")
    assert all(call != "write" for t, call, _ in backend.log if t > released)


def test_no_watchdog_on_simulated_time():
    """On a simulated clock a stalled process stalls the robot too: no damping from another thread."""
    meta = small_meta()
    backend = BlockingBackend(meta, clock=SimClock(), write_blocks_s=0.3)
    stats = run_loop(backend, ZeroPolicy(meta), meta, np.zeros(3), 0.2, CFG)
    assert watchdog_damps(backend) == [] and stats.final_mode == "policy"


def test_watchdog_timeout_shorter_than_two_periods_is_refused():
    meta = small_meta()
    backend = BlockingBackend(meta)
    with pytest.raises(SafetyError, match=r"watchdog_timeout_s = 0.03 is invalid for this policy: expected at least"):
        run_loop(backend, ZeroPolicy(meta), meta, np.zeros(3), 0.2, SafetyConfig(watchdog_timeout_s=0.03))
    assert backend.log == []


def test_estop_damps_and_stops():
    meta = small_meta()
    backend = BlockingBackend(meta, clock=SimClock())
    backend.estop_at = 0.09  # pressed before the sixth tick (t = 0.1 s)
    stats = run_loop(backend, ZeroPolicy(meta), meta, np.zeros(3), 5.0, CFG)
    assert stats.final_mode == "stopped" and stats.trip_reason.startswith("emergency stop")
    assert stats.ticks == 6 and backend.writes == 5
    assert backend.log[-1][1] == "damp" and backend.log[-2][1] == "damp"  # that tick's command, then the last


# ---------------------------------------------------------------- the MuJoCo backend's hooks


@pytest.fixture(scope="module")
def robot():
    from mjx_walker.model import build_robot_model

    return build_robot_model(small_meta().robot)


def test_mujoco_heartbeat_every_tick_and_estop_stops(robot):
    from mjx_walker.runner.mujoco_backend import MuJoCoBackend

    meta = small_meta()
    backend = MuJoCoBackend(robot)

    def press_at_tick_4(tick: object) -> None:
        """Press the simulated e-stop after the fifth tick."""
        if tick.index == 4:  # type: ignore[attr-defined]
            backend.estop_pressed = True

    stats = run_loop(backend, ZeroPolicy(meta), meta, np.zeros(3), 5.0, CFG, press_at_tick_4)
    assert stats.final_mode == "stopped" and stats.trip_reason.startswith("emergency stop")
    assert stats.ticks == 6 and backend.heartbeats == stats.ticks
    assert backend.drives_off()  # the simulated drives also let go on their own


def test_mujoco_drives_time_out_without_a_heartbeat(robot):
    from mjx_walker.runner.mujoco_backend import MuJoCoBackend

    backend = MuJoCoBackend(robot, drive_timeout_s=0.05)
    kp, kd = np.asarray(robot.kp, float), np.zeros(robot.nu)
    backend.write_targets(np.asarray(robot.default_joint_pos) + 0.2, kp, kd)
    backend.clock.sleep_until(0.04)
    backend.heartbeat()
    backend.clock.sleep_until(0.08)
    backend.read_state()
    assert not backend.drives_off() and np.abs(backend.data.ctrl).max() > 1.0  # still holding (fed at 0.04 s)
    backend.clock.sleep_until(0.2)
    backend.read_state()
    assert backend.drives_off() and np.abs(backend.data.ctrl).max() == 0.0  # kp = 0, kd = 0: no torque


def test_mujoco_base_height_fraction(robot):
    from mjx_walker.runner.mujoco_backend import MuJoCoBackend

    assert MuJoCoBackend(robot).base_height_fraction() == pytest.approx(1.0)
