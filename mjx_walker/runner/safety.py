"""The runner's safety layer: every check that stands between the policy and the motors.

Before the loop starts (:func:`mjx_walker.runner.meta_check.check_policy_meta`, every field of
the policy's metadata, also when the policy is loaded; :func:`check_command`, :func:`check_duration`
and :class:`SafetyConfig` itself) a setting the layer cannot work with raises :class:`SafetyError`
naming the field, the value and what is allowed, before any motor is commanded.

Each tick:

* targets are clamped to the joint limits and rate-limited (``max_target_rate`` rad/s); a
  non-finite target is never sent;
* NaN/inf in a reading, an observation or an action -> damping mode;
* a reading that is stale (older than ``stale_timeout_s``), stamped in the future (more than
  ``max_future_s`` ahead of the clock) or older than the one before -> damping mode;
* an implausible reading -> damping mode: a joint beyond its limits by more than
  ``joint_pos_margin`` of its range, a joint speed above ``max_joint_vel``, a gyro rate above
  ``max_gyro``, a gravity vector whose norm is not 1 within ``gravity_norm_tol`` (it is the unit
  gravity direction, not an acceleration in m/s²);
* an action of the wrong shape, or beyond ``max_action_factor`` times the action clip (1) -> damping
  mode (the action is clipped to [-1, 1] otherwise);
* a target whose PD torque (:func:`mjx_walker.pd.pd_torque` before its clip, at the tick's reading)
  exceeds ``max_torque_factor`` times the joint's torque limit for ``max_torque_ticks`` ticks in a
  row -> damping mode (a joint that cannot follow: blocked, or fought by the policy);
* an inference call longer than ``max_inference_s`` on the backend's clock (its action is stale
  by then) or ``max_consecutive_misses`` deadline misses in a row -> damping mode;
* torso tilt (from the IMU's gravity vector) beyond ``max_tilt_rad`` -> damping mode and stop;
* base height below ``min_height_fraction`` of standing, where the backend measures it -> damping
  mode and stop;
* no command sent for ``watchdog_timeout_s`` on a real-time clock -> the watchdog thread damps
  (:mod:`mjx_walker.runner.watchdog`), and the loop latches damping mode when it runs again;
* start-up: a ramp from the measured pose to the default pose over ``ramp_duration_s`` before
  the policy engages (skipped when the robot already stands in the default pose).

Damping mode is latched: once tripped, only a restart leaves it. The loop asks
:attr:`SafetyLayer.mode` what to do each tick and sends ``damp`` while in DAMPING, and damps
whenever it ends, however it ends (duration reached, an observer's stop, an exception, Ctrl-C).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mjx_walker.pd import pd_torque
from mjx_walker.runner.backend import RobotState

COMMAND_KEYS = (("lin_vel_x", "m/s"), ("lin_vel_y", "m/s"), ("yaw_rate", "rad/s"))
COMMAND_TOL = 1e-6  # a command this far past a range end is still in it (float32 rounding of "0.8")
ACTION_CLIP = 1.0  # policy actions are clipped to [-ACTION_CLIP, ACTION_CLIP]


class SafetyError(ValueError):
    """A setting, policy metadata value, command or duration the runner refuses to run with."""


class Mode(str, enum.Enum):  # noqa: UP042 (StrEnum would change str(mode))
    """What the runner is doing."""

    RAMP = "ramp"  # moving to the default pose, policy not engaged yet
    POLICY = "policy"  # policy in control
    DAMPING = "damping"  # tripped: kp = 0, joint damping only (latched)
    STOPPED = "stopped"  # tripped and the loop must end (damping stays commanded)


# field -> (test of a finite value, what is allowed); every field must also be a finite real number
_CONFIG_RULES: dict[str, tuple[Callable[[float], bool], str]] = {
    "max_tilt_rad": (lambda v: 0 < v <= math.pi, "an angle in (0, pi] rad"),
    "stale_timeout_s": (lambda v: v > 0, "seconds > 0"),
    "max_future_s": (lambda v: v >= 0, "seconds >= 0"),
    "max_target_rate": (lambda v: v > 0, "rad/s > 0"),
    "ramp_duration_s": (lambda v: v >= 0, "seconds >= 0 (0: no ramp)"),
    "ramp_skip_rad": (lambda v: v >= 0, "rad >= 0"),
    "joint_limit_margin": (lambda v: v >= 0, "rad >= 0"),
    "joint_pos_margin": (lambda v: v >= 0, "a fraction >= 0 of each joint's range"),
    "max_joint_vel": (lambda v: v > 0, "rad/s > 0"),
    "max_gyro": (lambda v: v > 0, "rad/s > 0"),
    "gravity_norm_tol": (lambda v: 0 < v < 1, "a fraction in (0, 1)"),
    "max_inference_s": (lambda v: v > 0, "seconds > 0"),
    "max_consecutive_misses": (lambda v: v >= 1 and float(v).is_integer(), "a whole number >= 1"),
    "damping_kd": (lambda v: v >= 0, "N·m·s/rad >= 0"),
    "max_action_factor": (lambda v: v >= 1, "a factor >= 1 of the action clip"),
    "max_torque_factor": (lambda v: v >= 1, "a factor >= 1 of the torque limit"),
    "max_torque_ticks": (lambda v: v >= 1 and float(v).is_integer(), "a whole number >= 1"),
    "min_height_fraction": (lambda v: 0 <= v < 1, "a fraction in [0, 1) (0: off)"),
    "watchdog_timeout_s": (lambda v: v > 0, "seconds > 0"),
}


@dataclass(frozen=True)
class SafetyConfig:
    """Thresholds of the safety layer (checked on construction: SafetyError names a bad one)."""

    max_tilt_rad: float = 0.8  # torso tilt from upright (IMU gravity) that stops the run
    stale_timeout_s: float = 0.1  # newest reading older than this -> damping
    max_future_s: float = 0.01  # reading stamped more than this ahead of the clock -> damping
    max_target_rate: float = 30.0  # rad/s, largest change of a joint target
    ramp_duration_s: float = 1.0  # start-up ramp to the default pose
    ramp_skip_rad: float = 0.1  # no ramp when every joint already is this close to the default pose
    joint_limit_margin: float = 0.0  # rad kept clear of each joint limit
    joint_pos_margin: float = 0.25  # a joint read beyond its limits by this fraction of its range -> damping
    max_joint_vel: float = 100.0  # rad/s, a faster joint reading is implausible -> damping
    max_gyro: float = 100.0  # rad/s, a faster IMU rate is implausible -> damping
    gravity_norm_tol: float = 0.5  # |norm(gravity) - 1| beyond this -> damping (a unit vector)
    max_inference_s: float = 0.05  # s on the backend's clock; a slower policy call -> damping
    max_consecutive_misses: int = 5  # this many deadline misses in a row -> damping
    damping_kd: float = 2.0  # N·m·s/rad, least damping gain in damping mode (some MJCFs have kd = 0)
    max_action_factor: float = 10.0  # |action| beyond this x the clip (1) is not clipped but trips -> damping
    max_torque_factor: float = 2.0  # PD torque beyond this x a joint's torque limit ...
    max_torque_ticks: int = 5  # ... for this many ticks in a row -> damping
    min_height_fraction: float = 0.5  # base height / standing height below this (where measured) -> stop
    watchdog_timeout_s: float = 0.1  # s (wall clock) with no command sent -> the watchdog damps (real time only)

    def __post_init__(self) -> None:
        """SafetyError naming the field, its value and what is allowed, for the first bad field."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            test, allowed = _CONFIG_RULES[f.name]
            number = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not (number and math.isfinite(value) and test(value)):
                raise SafetyError(f"SafetyConfig.{f.name} = {value!r} is invalid: expected {allowed}")


def check_command(command: Sequence[float] | np.ndarray, ranges: Mapping[str, Sequence[float]]) -> np.ndarray:
    """``command`` [vx m/s, vy m/s, yaw rad/s] as (3,) float64 if within the policy's trained ranges.

    SafetyError names the component, its value and the range: a policy asked for what it never
    trained on extrapolates, and a NaN command makes every observation non-finite.
    """
    arr = np.asarray(command, dtype=np.float64)
    if arr.shape != (3,):
        raise SafetyError(f"command = {list(np.ravel(arr))} is invalid: expected three numbers vx,vy,yaw")
    for value, (key, unit) in zip(arr, COMMAND_KEYS, strict=True):
        lo, hi = (float(v) for v in ranges[key])
        if not (math.isfinite(value) and lo - COMMAND_TOL <= value <= hi + COMMAND_TOL):
            raise SafetyError(
                f"command {key} = {value:g} {unit} is invalid: expected a value in the policy's trained "
                f"range [{lo:g}, {hi:g}] {unit}"
            )
    return arr


def check_duration(duration: float) -> float:
    """``duration`` in s if > 0 (inf: until stopped); SafetyError if not (NaN, 0, negative)."""
    value = float(duration)
    if not value > 0:  # also NaN
        raise SafetyError(f"duration = {duration!r} is invalid: expected seconds > 0 (inf: until stopped)")
    return value


class SafetyLayer:
    """Stateful checks and target filtering for one run."""

    def __init__(
        self,
        cfg: SafetyConfig,
        joint_lower: np.ndarray,
        joint_upper: np.ndarray,
        default_pos: np.ndarray,
        period: float,
    ) -> None:
        """Limits (nu,) rad, default pose (nu,) rad, control period s (finite, > 0)."""
        if not (math.isfinite(period) and period > 0):
            raise SafetyError(f"control period = {period!r} is invalid: expected a finite period > 0 s")
        if cfg.watchdog_timeout_s < 2 * period:
            raise SafetyError(
                f"SafetyConfig.watchdog_timeout_s = {cfg.watchdog_timeout_s!r} is invalid for this policy: expected "
                f"at least 2 control periods ({2 * period:g} s)"
            )
        self.cfg = cfg
        self.joint_lower = np.asarray(joint_lower, float)
        self.joint_upper = np.asarray(joint_upper, float)
        self.lower = self.joint_lower + cfg.joint_limit_margin
        self.upper = self.joint_upper - cfg.joint_limit_margin
        if np.any(self.lower > self.upper):
            raise SafetyError(
                f"SafetyConfig.joint_limit_margin = {cfg.joint_limit_margin!r} is invalid: expected at most "
                f"half the narrowest joint range ({np.min(self.joint_upper - self.joint_lower) / 2:g} rad)"
            )
        self.default_pos = np.asarray(default_pos, float)
        self.period = float(period)
        self.mode = Mode.RAMP
        self.reason = ""
        self.trips: list[str] = []
        self._last_target: np.ndarray | None = None
        self._ramp_from = self.default_pos.copy()
        self._ramp_t0 = 0.0
        self._last_stamp = -math.inf
        self._misses = 0
        self._torque_ticks = 0  # ticks in a row with a PD torque over max_torque_factor x its limit

    # -------------------------------------------------------------- tripping
    @property
    def engaged(self) -> bool:
        """True while the runner may command the joints (ramp or policy)."""
        return self.mode in (Mode.RAMP, Mode.POLICY)

    def trip(self, reason: str, stop: bool = False) -> None:
        """Enter damping mode (and stop when ``stop``); the first reason is kept."""
        if self.engaged:
            self.reason = reason
        self.trips.append(reason)
        if stop:
            self.mode = Mode.STOPPED
        elif self.mode != Mode.STOPPED:
            self.mode = Mode.DAMPING

    def check_finite(self, name: str, values: np.ndarray) -> bool:
        """False (and damping) if ``values`` hold NaN or inf."""
        if np.all(np.isfinite(values)):
            return True
        self.trip(f"non-finite {name}")
        return False

    def check_timestamp(self, stamp: float, now: float) -> bool:
        """False (and damping) if a reading stamped ``stamp`` s is stale, from the future or goes back."""
        age = now - stamp
        if not np.isfinite(age) or age > self.cfg.stale_timeout_s:
            self.trip(
                f"stale state: newest reading is {age * 1e3:.1f} ms old (> {self.cfg.stale_timeout_s * 1e3:.0f} ms)"
            )
            return False
        if -age > self.cfg.max_future_s:
            self.trip(
                f"reading from the future: stamped {-age * 1e3:.1f} ms ahead of the clock "
                f"(> {self.cfg.max_future_s * 1e3:.0f} ms); the backend's timestamps and clock disagree"
            )
            return False
        if stamp < self._last_stamp:
            self.trip(f"timestamps went backwards: {stamp:.6f} s after {self._last_stamp:.6f} s")
            return False
        self._last_stamp = float(stamp)
        return True

    def check_plausible(self, state: RobotState) -> bool:
        """False (and damping) if a finite reading is physically implausible (a sensor or driver fault)."""
        cfg = self.cfg
        pos = np.asarray(state.joint_pos, float)
        margin = cfg.joint_pos_margin * (self.joint_upper - self.joint_lower)  # (nu,) rad
        beyond = np.maximum(self.joint_lower - pos, pos - self.joint_upper) - margin
        if np.any(beyond > 0):
            j = int(np.argmax(beyond))
            self.trip(
                f"implausible joint_pos[{j}] = {pos[j]:.3g} rad: beyond its limits "
                f"[{self.joint_lower[j]:.3g}, {self.joint_upper[j]:.3g}] by more than {margin[j]:.3g} rad "
                f"({cfg.joint_pos_margin:g} of its range)"
            )
            return False
        for name, limit in (("joint_vel", cfg.max_joint_vel), ("gyro", cfg.max_gyro)):
            values = np.abs(np.asarray(getattr(state, name), float))
            if values.size and values.max() > limit:
                self.trip(f"implausible {name}: |{values.max():.3g}| rad/s > {limit:g} rad/s")
                return False
        norm = float(np.linalg.norm(np.asarray(state.gravity, float)))
        if abs(norm - 1.0) > cfg.gravity_norm_tol:
            self.trip(
                f"implausible gravity: norm {norm:.3g}, expected the unit gravity direction "
                f"(1 +- {cfg.gravity_norm_tol:g}), not an acceleration"
            )
            return False
        return True

    def check_state(self, state: RobotState, now: float) -> bool:
        """Timestamp, non-finite, plausibility and tilt checks of a reading at ``now`` s; False if tripped."""
        if not self.check_timestamp(state.timestamp, now):
            return False
        nu = self.default_pos.shape[0]
        for name, shape in (("joint_pos", (nu,)), ("joint_vel", (nu,)), ("gyro", (3,)), ("gravity", (3,))):
            values = np.asarray(getattr(state, name))
            if values.shape != shape:
                self.trip(f"reading {name} has shape {values.shape}, expected {shape}")
                return False
            if not self.check_finite(f"reading {name}", values):
                return False
        if not self.check_plausible(state):
            return False
        tilt = tilt_from_gravity(state.gravity)
        if tilt > self.cfg.max_tilt_rad:
            self.trip(f"tilt {tilt:.2f} rad > {self.cfg.max_tilt_rad:.2f} rad", stop=True)
            return False
        return self.engaged

    def check_action(self, action: np.ndarray, nu: int) -> bool:
        """False (and damping) unless the policy's action has shape (nu,), is finite and near the clip.

        An action beyond ``max_action_factor`` x the clip is not clipped: a policy that far off its
        training distribution (or a broken export) is not trusted with the motors.
        """
        if np.shape(action) != (nu,):
            self.trip(f"action shape {np.shape(action)} is not ({nu},)")
            return False
        if not self.check_finite("action", action):
            return False
        size = np.abs(np.asarray(action, float))
        limit = self.cfg.max_action_factor * ACTION_CLIP
        if np.any(size > limit):
            j = int(np.argmax(size))
            self.trip(
                f"action[{j}] = {float(action[j]):.3g} is beyond {self.cfg.max_action_factor:g} x the action clip "
                f"({ACTION_CLIP:g}): the policy is far outside what it was trained to output"
            )
            return False
        return True

    def check_torque(
        self, state: RobotState, target: np.ndarray, kp: np.ndarray, kd: np.ndarray, torque_limit: np.ndarray
    ) -> bool:
        """False (and damping) once the PD torque for ``target`` is over its limit too long.

        target (nu,) rad; kp (nu,) N·m/rad; kd (nu,) N·m·s/rad; torque_limit (nu,) N·m. The torque is
        the drives' PD law before its clip, at this tick's reading; ``max_torque_ticks`` ticks in a
        row over ``max_torque_factor`` x the limit trip.
        """
        tau = pd_torque(np.asarray(state.joint_pos, float), np.asarray(state.joint_vel, float), target, kp, kd, np.inf)
        ratio = np.abs(tau) / np.asarray(torque_limit, float)
        if not np.any(ratio > self.cfg.max_torque_factor):
            self._torque_ticks = 0
            return True
        self._torque_ticks += 1
        if self._torque_ticks < self.cfg.max_torque_ticks:
            return True
        j = int(np.argmax(ratio))
        self.trip(
            f"torque: joint {j} needs {tau[j]:.3g} N·m from its PD law, over {self.cfg.max_torque_factor:g} x its "
            f"limit {torque_limit[j]:g} N·m for {self._torque_ticks} ticks in a row"
        )
        return False

    def check_height(self, fraction: float | None) -> bool:
        """False (damping and stop) if the base is below ``min_height_fraction`` of standing (None: not measured)."""
        if fraction is None:
            return True
        if not math.isfinite(fraction):
            self.trip(f"non-finite base height fraction {fraction!r}", stop=True)
            return False
        if fraction < self.cfg.min_height_fraction:
            self.trip(
                f"fall: base at {fraction:.2f} of its standing height (< {self.cfg.min_height_fraction:g})", stop=True
            )
            return False
        return True

    def check_latency(self, seconds: float) -> bool:
        """False (and damping) if an inference call took longer than ``max_inference_s`` on the clock."""
        if seconds <= self.cfg.max_inference_s:
            return True
        self.trip(f"inference stall: {seconds * 1e3:.0f} ms > {self.cfg.max_inference_s * 1e3:.0f} ms")
        return False

    def note_deadline(self, missed: bool) -> None:
        """Count a tick's deadline outcome; ``max_consecutive_misses`` misses in a row -> damping."""
        self._misses = self._misses + 1 if missed else 0
        if self._misses >= self.cfg.max_consecutive_misses and self.engaged:
            self.trip(f"{self._misses} consecutive deadline misses (control period {self.period * 1e3:.0f} ms)")

    # ----------------------------------------------------------------- ramp
    def start(self, joint_pos: np.ndarray, now: float) -> None:
        """Begin the start-up ramp from the measured pose (nu,) rad at time ``now`` s.

        A robot already at the default pose (within ``ramp_skip_rad`` on every joint) hands over to
        the policy at once: holding a standing humanoid with PD alone for the ramp's duration can
        topple it (the Berkeley Humanoid falls in about 1 s under PD at its default pose).
        """
        self._ramp_from = np.clip(np.asarray(joint_pos, float), self.lower, self.upper)
        self._ramp_t0 = float(now)
        self._last_target = self._ramp_from.copy()
        at_default = np.max(np.abs(self._ramp_from - self.default_pos)) <= self.cfg.ramp_skip_rad
        self.mode = Mode.RAMP if self.cfg.ramp_duration_s > 0 and not at_default else Mode.POLICY

    def ramp_target(self, now: float) -> np.ndarray:
        """Ramp target (nu,) rad at ``now`` (smoothstep); switches to POLICY once it arrives."""
        s = 1.0 if self.cfg.ramp_duration_s <= 0 else (now - self._ramp_t0) / self.cfg.ramp_duration_s
        s = float(np.clip(s, 0.0, 1.0))
        if s >= 1.0 and self.mode == Mode.RAMP:
            self.mode = Mode.POLICY
        w = s * s * (3.0 - 2.0 * s)
        return self._ramp_from + w * (self.default_pos - self._ramp_from)

    # -------------------------------------------------------------- filter
    def limit(self, target: np.ndarray) -> np.ndarray:
        """Target (nu,) rad clamped to the joint limits and to max_target_rate from the last one."""
        target = np.clip(np.asarray(target, float), self.lower, self.upper)
        if self._last_target is not None:
            step = self.cfg.max_target_rate * self.period
            target = np.clip(target, self._last_target - step, self._last_target + step)
        self._last_target = target
        return target


def tilt_from_gravity(gravity: np.ndarray) -> float:
    """Angle rad between the IMU's z axis and up, from the gravity direction (3,) in the IMU frame."""
    g = np.asarray(gravity, float)
    norm = float(np.linalg.norm(g))
    if norm == 0.0 or not np.isfinite(norm):
        return float("inf")
    return float(np.arccos(np.clip(-g[2] / norm, -1.0, 1.0)))


def __getattr__(name: str) -> object:
    """``check_policy_meta``, importable from here as before (it lives in :mod:`mjx_walker.runner.meta_check`)."""
    if name == "check_policy_meta":
        from mjx_walker.runner.meta_check import check_policy_meta

        return check_policy_meta
    raise AttributeError(f"module 'mjx_walker.runner.safety' has no attribute {name!r}")
