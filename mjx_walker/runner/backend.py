"""The robot backend interface the runner talks to, and the clocks it runs on.

A backend is anything that can (1) report joint encoders and the IMU with a timestamp,
(2) accept joint position targets with PD gains, and (3) drop into damping mode. The control
loop (:mod:`mjx_walker.runner.loop`) only ever uses this interface, so the MuJoCo backend runs
exactly the code a robot runs.

Plugging in a hardware backend
------------------------------
Subclass :class:`RobotBackend` and implement:

* ``read_state()`` -> :class:`RobotState`: the latest encoder and IMU reading with the time (on
  the backend's clock, in seconds) at which it was *measured*. Return the last reading again if
  none is new: the safety layer detects stale data from the timestamp. Joints must be in the
  order of ``PolicyMeta.joint_names`` (map them in the backend); the IMU gyro is in rad/s and
  ``gravity`` is the unit gravity direction in the IMU frame ((0, 0, -1) when upright), the same
  frame as the IMU site of the MJCF.
* ``write_targets(targets, kp, kd)``: send position targets (rad) and gains to the joint
  drivers, which run ``tau = clip(kp (target - q) - kd qd, +-torque_limit)`` (as
  :func:`mjx_walker.pd.pd_torque`). Non-blocking.
* ``damp(kd)``: zero stiffness, damping ``kd`` on every joint (``kp = 0``); must be safe to
  call repeatedly and from any state. It is the safe stop: the loop sends it on every tick
  in damping mode and as its last command however it ends (duration reached, a safety stop,
  an exception from ``read_state``/``write_targets``/the policy, Ctrl-C), so a backend
  should make it work even after a failed read or write (e.g. re-open the bus).
* ``clock``: a :class:`Clock`; use :class:`WallClock` on hardware.

Then ``run_policy(policy_path, backend=MyBackend(...))`` (or register it in
:func:`mjx_walker.runner.session.make_backend`) and the loop, safety layer and observation
builder are the same ones the simulator evaluation used.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass

import numpy as np

from mjx_walker.sensing import Measurement


@dataclass(frozen=True)
class RobotState:
    """One sensor reading of the robot."""

    timestamp: float  # s, when it was measured, on the backend's clock
    joint_pos: np.ndarray  # (nu,) rad, action order
    joint_vel: np.ndarray  # (nu,) rad/s
    gyro: np.ndarray  # (3,) rad/s, IMU frame
    gravity: np.ndarray  # (3,) unit gravity direction in the IMU frame
    base_linvel: np.ndarray | None = None  # (3,) m/s, IMU-site velocity, IMU frame: simulation only

    @property
    def measurement(self) -> Measurement:
        """The sensor readings as training's :class:`~mjx_walker.sensing.Measurement`."""
        return Measurement(self.gyro, self.gravity, self.joint_pos, self.joint_vel)


class Clock(abc.ABC):
    """Monotonic time source with a ``sleep_until`` that the control loop schedules against."""

    @abc.abstractmethod
    def now(self) -> float:
        """Current time in seconds."""

    @abc.abstractmethod
    def sleep_until(self, deadline: float) -> None:
        """Return at (or as soon as possible after) ``deadline`` seconds."""


class WallClock(Clock):
    """Real time: ``time.perf_counter``; sleeps, then spins the last ~0.5 ms for precision."""

    spin_s = 5e-4

    def now(self) -> float:
        """Seconds from the monotonic high-resolution clock."""
        return time.perf_counter()

    def sleep_until(self, deadline: float) -> None:
        """Sleep (then busy-wait) until ``deadline``."""
        remaining = deadline - time.perf_counter()
        if remaining > self.spin_s:
            time.sleep(remaining - self.spin_s)
        while time.perf_counter() < deadline:
            pass


class SimClock(Clock):
    """Simulated time: ``sleep_until`` jumps to the deadline at once (runs as fast as possible)."""

    def __init__(self, start: float = 0.0) -> None:
        """Start at ``start`` seconds."""
        self._t = float(start)

    def now(self) -> float:
        """Simulated seconds."""
        return self._t

    def sleep_until(self, deadline: float) -> None:
        """Advance simulated time to ``deadline`` (never backwards)."""
        self._t = max(self._t, float(deadline))


class RobotBackend(abc.ABC):
    """What the control loop needs from a robot (real or simulated)."""

    clock: Clock
    # Ground-truth readings this backend adds to RobotState (a simulator: {"base_linvel"}).
    ground_truth: frozenset[str] = frozenset()

    @abc.abstractmethod
    def read_state(self) -> RobotState:
        """Latest joint and IMU reading with its measurement timestamp."""

    @abc.abstractmethod
    def write_targets(self, targets: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> None:
        """Command joint position targets (nu,) rad with gains kp (nu,) N·m/rad, kd (nu,) N·m·s/rad."""

    @abc.abstractmethod
    def damp(self, kd: np.ndarray) -> None:
        """Damping mode: kp = 0 and damping kd (nu,) N·m·s/rad on every joint."""

    def close(self) -> None:
        """Release resources (default: nothing)."""
        return None
