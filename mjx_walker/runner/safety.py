"""The runner's safety layer: every check that stands between the policy and the motors.

* targets are clamped to the joint limits and rate-limited (``max_target_rate`` rad/s);
* NaN/inf in a reading, an observation or an action -> damping mode;
* stale state (newest reading older than ``stale_timeout_s``) -> damping mode;
* torso tilt (from the IMU's gravity vector) beyond ``max_tilt_rad`` -> damping mode and stop;
* start-up: a ramp from the measured pose to the default pose over ``ramp_duration_s`` before
  the policy engages (skipped when the robot already stands in the default pose).

Damping mode is latched: once tripped, only a restart leaves it. The loop asks
:attr:`SafetyLayer.mode` what to do each tick and sends ``damp`` while in DAMPING.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from mjx_walker.runner.backend import RobotState


class Mode(str, enum.Enum):  # noqa: UP042 (StrEnum would change str(mode))
    """What the runner is doing."""

    RAMP = "ramp"  # moving to the default pose, policy not engaged yet
    POLICY = "policy"  # policy in control
    DAMPING = "damping"  # tripped: kp = 0, joint damping only (latched)
    STOPPED = "stopped"  # tripped and the loop must end (damping stays commanded)


@dataclass(frozen=True)
class SafetyConfig:
    """Thresholds of the safety layer."""

    max_tilt_rad: float = 0.8  # torso tilt from upright (IMU gravity) that stops the run
    stale_timeout_s: float = 0.1  # newest reading older than this -> damping
    max_target_rate: float = 30.0  # rad/s, largest change of a joint target
    ramp_duration_s: float = 1.0  # start-up ramp to the default pose
    ramp_skip_rad: float = 0.1  # no ramp when every joint already is this close to the default pose
    joint_limit_margin: float = 0.0  # rad kept clear of each joint limit
    damping_kd: float = 2.0  # N·m·s/rad, least damping gain in damping mode (some MJCFs have kd = 0)


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
        """Limits (nu,) rad, default pose (nu,) rad, control period s."""
        self.cfg = cfg
        self.lower = np.asarray(joint_lower, float) + cfg.joint_limit_margin
        self.upper = np.asarray(joint_upper, float) - cfg.joint_limit_margin
        self.default_pos = np.asarray(default_pos, float)
        self.period = float(period)
        self.mode = Mode.RAMP
        self.reason = ""
        self.trips: list[str] = []
        self._last_target: np.ndarray | None = None
        self._ramp_from = self.default_pos.copy()
        self._ramp_t0 = 0.0

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

    def check_state(self, state: RobotState, now: float) -> bool:
        """Stale, non-finite and tilt checks of a reading taken at ``now`` s; False if tripped."""
        age = now - state.timestamp
        if not np.isfinite(age) or age > self.cfg.stale_timeout_s:
            self.trip(
                f"stale state: newest reading is {age * 1e3:.1f} ms old (> {self.cfg.stale_timeout_s * 1e3:.0f} ms)"
            )
            return False
        for name in ("joint_pos", "joint_vel", "gyro", "gravity"):
            if not self.check_finite(f"reading {name}", np.asarray(getattr(state, name))):
                return False
        tilt = tilt_from_gravity(state.gravity)
        if tilt > self.cfg.max_tilt_rad:
            self.trip(f"tilt {tilt:.2f} rad > {self.cfg.max_tilt_rad:.2f} rad", stop=True)
            return False
        return self.engaged

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
