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

Optional hooks (defaults do nothing):

* ``heartbeat()``: called once per control tick after the command is sent. Map it onto the
  drives' own command timeout (a CAN heartbeat, a watchdog register), so that the drives damp
  themselves when this process dies or hangs.
* ``estop()`` -> bool: True while the emergency-stop input is pressed; the loop then damps and
  stops. The default reports not pressed.
* ``base_height_fraction()`` -> float or None: the base height over its standing height (1 when
  standing), where the backend can measure it (a simulator, a motion-capture system); below
  ``SafetyConfig.min_height_fraction`` the loop damps and stops. The default: None, not measured.

On a real-time clock a watchdog thread (:mod:`mjx_walker.runner.watchdog`) calls ``damp`` when the
loop has sent no command for ``SafetyConfig.watchdog_timeout_s``, also while the loop is blocked
inside ``read_state`` or ``write_targets``: ``damp`` must work when called from another thread
during either of them.

A malformed return (``read_state`` returning None or a reading with a timestamp or array that
is not numbers, ``estop`` returning anything but a bool) is a :class:`BackendError`: the loop
damps, stops and raises it.

Then ``run_policy(policy_path, backend=MyBackend(...))`` (or register it in
:func:`mjx_walker.runner.session.make_backend`) and the loop, safety layer and observation
builder are the same ones the simulator evaluation used.
"""

from __future__ import annotations

import abc
import numbers
import reprlib
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


class BackendError(RuntimeError):
    """A backend broke its contract: a malformed return (None, a timestamp or array that is not numbers)."""


class Clock(abc.ABC):
    """Monotonic time source with a ``sleep_until`` that the control loop schedules against.

    ``realtime``: whether its seconds are the robot's real time (then the loop runs a watchdog
    thread on the wall clock). A simulated clock, whose time waits for the process, is not.
    """

    realtime: bool = False

    @abc.abstractmethod
    def now(self) -> float:
        """Current time in seconds."""

    @abc.abstractmethod
    def sleep_until(self, deadline: float) -> None:
        """Return at (or as soon as possible after) ``deadline`` seconds."""


class WallClock(Clock):
    """Real time: ``time.perf_counter``; sleeps, then spins the last ~0.5 ms for precision."""

    realtime = True
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

    def heartbeat(self) -> None:
        """Tell the drives the controller is alive (once per tick); default: nothing to tell."""
        return None

    def estop(self) -> bool:
        """Whether the emergency-stop input is pressed; default: False (no such input)."""
        return False

    def base_height_fraction(self) -> float | None:
        """Base height / standing height (1 standing), or None where not measured (the default)."""
        return None

    def close(self) -> None:
        """Release resources (default: nothing)."""
        return None


_STATE_ARRAYS = ("joint_pos", "joint_vel", "gyro", "gravity")


def _short(value: object) -> str:
    """A short repr of ``value`` and its type, for an error message."""
    return f"{reprlib.repr(value)} ({type(value).__name__})"


def check_reading(state: object) -> RobotState:
    """``state`` if it is a RobotState of numbers; BackendError naming what is malformed otherwise.

    Shapes and values (NaN, plausibility) are the safety layer's to judge; this checks types only.
    """
    if not isinstance(state, RobotState):
        raise BackendError(f"backend read_state() returned {_short(state)}, expected a RobotState")
    stamp = state.timestamp
    if not isinstance(stamp, numbers.Real) or isinstance(stamp, bool):
        raise BackendError(f"backend read_state() returned timestamp = {_short(stamp)}, expected seconds (a number)")
    names = _STATE_ARRAYS + (("base_linvel",) if state.base_linvel is not None else ())
    for name in names:
        value = getattr(state, name)
        try:
            kind = np.asarray(value).dtype.kind if value is not None else "O"
        except (TypeError, ValueError):  # ragged nesting
            kind = "O"
        if kind not in "iuf":
            raise BackendError(f"backend read_state() returned {name} = {_short(value)}, expected an array of numbers")
    return state


def check_flag(value: object, call: str) -> bool:
    """``value`` as a bool if it is one (NumPy's included); BackendError naming ``call`` otherwise."""
    if not isinstance(value, bool | np.bool_):
        raise BackendError(f"backend {call} returned {_short(value)}, expected True or False")
    return bool(value)


def check_fraction(value: object, call: str) -> float | None:
    """``value`` as a float (or None); BackendError naming ``call`` if it is another type."""
    if value is None:
        return None
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise BackendError(f"backend {call} returned {_short(value)}, expected a number or None")
    return float(value)
