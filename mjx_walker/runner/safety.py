"""The runner's safety layer: every check that stands between the policy and the motors.

Before the loop starts (:func:`check_policy_meta`, :func:`check_command`, :func:`check_duration`
and :class:`SafetyConfig` itself) a setting the layer cannot work with raises :class:`SafetyError`
naming the field, the value and what is allowed, before any motor is commanded.

Each tick:

* targets are clamped to the joint limits and rate-limited (``max_target_rate`` rad/s); a
  non-finite target is never sent;
* NaN/inf in a reading, an observation or an action -> damping mode;
* a reading that is stale (older than ``stale_timeout_s``), stamped in the future (more than
  ``max_future_s`` ahead of the clock) or older than the one before -> damping mode;
* an implausible reading -> damping mode: a joint beyond its limits by more than
  ``joint_pos_margin_rad``, a joint speed above ``max_joint_vel``, a gyro rate above
  ``max_gyro``, a gravity vector whose norm is not 1 within ``gravity_norm_tol`` (it is the unit
  gravity direction, not an acceleration in m/s²);
* an action of the wrong shape -> damping mode;
* an inference call longer than ``max_inference_s`` on the backend's clock (its action is stale
  by then) or ``max_consecutive_misses`` deadline misses in a row -> damping mode;
* torso tilt (from the IMU's gravity vector) beyond ``max_tilt_rad`` -> damping mode and stop;
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
from typing import TYPE_CHECKING

import numpy as np

from mjx_walker.runner.backend import RobotState

if TYPE_CHECKING:
    from mjx_walker.onnx_meta import PolicyMeta

COMMAND_KEYS = (("lin_vel_x", "m/s"), ("lin_vel_y", "m/s"), ("yaw_rate", "rad/s"))
COMMAND_TOL = 1e-6  # a command this far past a range end is still in it (float32 rounding of "0.8")


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
    "joint_pos_margin_rad": (lambda v: v >= 0, "rad >= 0"),
    "max_joint_vel": (lambda v: v > 0, "rad/s > 0"),
    "max_gyro": (lambda v: v > 0, "rad/s > 0"),
    "gravity_norm_tol": (lambda v: 0 < v < 1, "a fraction in (0, 1)"),
    "max_inference_s": (lambda v: v > 0, "seconds > 0"),
    "max_consecutive_misses": (lambda v: v >= 1 and float(v).is_integer(), "a whole number >= 1"),
    "damping_kd": (lambda v: v >= 0, "N·m·s/rad >= 0"),
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
    joint_pos_margin_rad: float = 0.5  # a joint read this far beyond its limits is implausible -> damping
    max_joint_vel: float = 100.0  # rad/s, a faster joint reading is implausible -> damping
    max_gyro: float = 100.0  # rad/s, a faster IMU rate is implausible -> damping
    gravity_norm_tol: float = 0.5  # |norm(gravity) - 1| beyond this -> damping (a unit vector)
    max_inference_s: float = 0.05  # s on the backend's clock; a slower policy call -> damping
    max_consecutive_misses: int = 5  # this many deadline misses in a row -> damping
    damping_kd: float = 2.0  # N·m·s/rad, least damping gain in damping mode (some MJCFs have kd = 0)

    def __post_init__(self) -> None:
        """SafetyError naming the field, its value and what is allowed, for the first bad field."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            test, allowed = _CONFIG_RULES[f.name]
            number = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not (number and math.isfinite(value) and test(value)):
                raise SafetyError(f"SafetyConfig.{f.name} = {value!r} is invalid: expected {allowed}")


def _check_values(
    name: str, values: object, size: int | None, allowed: str, test: Callable[[np.ndarray], object] | None = None
) -> np.ndarray:
    """``values`` as a float array of ``size`` finite entries passing ``test``, else SafetyError."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise SafetyError(f"policy metadata {name} = {values!r} is invalid: expected {allowed}") from None
    shape_ok = arr.ndim == (0 if size is None else 1) and (size is None or arr.shape == (size,))
    if not shape_ok or not np.all(np.isfinite(arr)) or (test is not None and not np.all(test(arr))):
        raise SafetyError(f"policy metadata {name} = {values!r} is invalid: expected {allowed}")
    return arr


def check_policy_meta(meta: PolicyMeta) -> None:
    """SafetyError unless the metadata the loop computes targets and timing from is usable.

    Bad metadata would otherwise hang the loop (``ctrl_dt`` <= 0 or NaN) or send NaN targets
    and gains to the motors (a NaN default pose, action scale, joint limit or gain).
    """
    nu = meta.nu
    if nu < 1:
        raise SafetyError(f"policy metadata joint_names = {meta.joint_names!r} is invalid: expected >= 1 joint")
    _check_values("ctrl_dt", meta.ctrl_dt, None, "a finite control period > 0 s", lambda v: v > 0)
    _check_values("action_scale", meta.action_scale, None, "a finite scale >= 0 rad", lambda v: v >= 0)
    _check_values("gait_frequency_hz", meta.gait_frequency_hz, None, "a finite frequency >= 0 Hz", lambda v: v >= 0)
    _check_values("initial_gait_phase", meta.initial_gait_phase, 2, "2 finite phases in rad")
    for name, allowed, test in (
        ("default_joint_pos", "rad", None),
        ("joint_lower", "rad", None),
        ("joint_upper", "rad", None),
        ("kp", "N·m/rad >= 0", lambda v: v >= 0),
        ("kd", "N·m·s/rad >= 0", lambda v: v >= 0),
    ):
        _check_values(name, getattr(meta, name), nu, f"{nu} finite values in {allowed} (one per joint)", test)
    lower, upper = meta.array("joint_lower"), meta.array("joint_upper")
    if np.any(lower > upper):
        j = int(np.argmax(lower > upper))
        raise SafetyError(
            f"policy metadata joint_lower[{j}] = {lower[j]:g} > joint_upper[{j}] = {upper[j]:g} rad: "
            "expected joint_lower <= joint_upper"
        )


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
        beyond = np.maximum(self.joint_lower - pos, pos - self.joint_upper)
        if np.any(beyond > cfg.joint_pos_margin_rad):
            j = int(np.argmax(beyond))
            self.trip(
                f"implausible joint_pos[{j}] = {pos[j]:.3g} rad: beyond its limits "
                f"[{self.joint_lower[j]:.3g}, {self.joint_upper[j]:.3g}] by more than {cfg.joint_pos_margin_rad:g} rad"
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
        """False (and damping) unless the policy's action has shape (nu,) and is finite."""
        if np.shape(action) != (nu,):
            self.trip(f"action shape {np.shape(action)} is not ({nu},)")
            return False
        return self.check_finite("action", action)

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
