"""Environment configuration: frozen dataclasses, one per concern, validated at construction.

Every config checks its own fields in ``__post_init__`` so that a bad value raises a
:class:`ConfigError` naming the field, the value and what is allowed, before anything is
traced or compiled. Configs are never mutated: use :func:`dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from typing import Any

Range = tuple[float, float]


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field, value and what is allowed."""


INT32_MAX = 2**31 - 1
FLOAT_TINY = 1e-15  # smallest nonzero magnitude a float setting may have
FLOAT_HUGE = 1e15  # largest: squared, it stays inside float32 (3.4e38)
MAX_SUBSTEPS = 200  # physics substeps per control step


def _fail(owner: object, name: str, value: Any, allowed: str) -> None:
    """Raise a ConfigError for ``owner.name = value`` saying what is allowed."""
    raise ConfigError(f"{type(owner).__name__}.{name} = {value!r} is invalid: {allowed}")


def _plain(value: Any) -> Any:
    """A NumPy scalar (or 0-d array) as the Python scalar it holds, a list as a tuple; else ``value``."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value


def canonicalize(owner: object) -> None:
    """Turn NumPy scalars into Python ones and lists into tuples, in every field of a frozen config."""
    for f in dataclasses.fields(owner):  # type: ignore[arg-type]
        value = getattr(owner, f.name)
        plain = _plain(value)
        if plain is not value:
            object.__setattr__(owner, f.name, plain)


def _is_int(value: Any) -> bool:
    """Whether ``value`` is an int and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> bool:
    """Whether ``value`` is an int or float (not a bool) that is finite as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return abs(value) <= sys.float_info.max if isinstance(value, int) else math.isfinite(value)


def check_bool(owner: object, name: str) -> None:
    """Check that ``owner.name`` is a bool (a string such as "false" is refused: it is truthy)."""
    value = getattr(owner, name)
    if not isinstance(value, bool):
        _fail(owner, name, value, "expected a boolean, True or False")


def check_int_range(owner: object, name: str, lo_bound: int = 0) -> None:
    """Check that ``owner.name`` is a pair of integers (low, high) with lo_bound <= low <= high."""
    value = getattr(owner, name)
    allowed = f"expected a pair of integers (low, high) with {lo_bound} <= low <= high"
    if not isinstance(value, tuple) or len(value) != 2 or not all(_is_int(v) for v in value):
        _fail(owner, name, value, allowed)
    lo, hi = value
    if lo < lo_bound or lo > hi:
        _fail(owner, name, value, allowed)


def check_range(owner: object, name: str, lo_bound: float | None = None, hi_bound: float | None = None) -> None:
    """Check that ``owner.name`` is a (low, high) pair with low <= high inside the given bounds."""
    value = getattr(owner, name)
    bounds = f"[{'-inf' if lo_bound is None else lo_bound}, {'inf' if hi_bound is None else hi_bound}]"
    allowed = f"expected a pair (low, high) with low <= high, both in {bounds}"
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        _fail(owner, name, value, allowed)
    lo, hi = value
    if not all(_is_finite_number(v) for v in (lo, hi)):
        _fail(owner, name, value, allowed)
    if lo > hi:
        _fail(owner, name, value, f"lower bound {lo} is above upper bound {hi}; {allowed}")
    if (lo_bound is not None and lo < lo_bound) or (hi_bound is not None and hi > hi_bound):
        _fail(owner, name, value, allowed)


def check_scalar(
    owner: object,
    name: str,
    lo: float | None = None,
    hi: float | None = None,
    strict_lo: bool = False,
    integer: bool = False,
    int32: bool = True,
) -> None:
    """Check that ``owner.name`` is a finite number (an int if ``integer``) inside [lo, hi].

    The env and learner compute in float32 and int32, so a number must also survive the cast: an
    integer at most ``INT32_MAX`` (unless ``int32`` is False: a host-side count), a float 0 or of
    magnitude in [``FLOAT_TINY``, ``FLOAT_HUGE``] (far inside float32's range, so that products of
    two such values neither overflow to inf nor underflow to 0).
    """
    value = getattr(owner, name)
    kind = "an integer" if integer else "a number"
    lo_txt = "-inf" if lo is None else lo
    allowed = f"expected {kind} in {'(' if strict_lo else '['}{lo_txt}, {'inf' if hi is None else hi}]"
    ok_type = _is_int(value) if integer else isinstance(value, (int, float))
    if not ok_type or not _is_finite_number(value):
        _fail(owner, name, value, allowed)
    if lo is not None and (value < lo or (strict_lo and value == lo)):
        _fail(owner, name, value, allowed)
    if hi is not None and value > hi:
        _fail(owner, name, value, allowed)
    if integer and int32 and abs(value) > INT32_MAX:
        _fail(owner, name, value, f"{allowed}, and at most {INT32_MAX} (it is used as a 32-bit integer)")
    if not integer and value != 0 and not FLOAT_TINY <= abs(value) <= FLOAT_HUGE:
        _fail(owner, name, value, f"{allowed}, and 0 or of magnitude {FLOAT_TINY:g}..{FLOAT_HUGE:g} (float32)")


@dataclass(frozen=True)
class RobotConfig:
    """Which robot, and how actions map onto its joints."""

    name: str = "berkeley_humanoid"
    action_scale: float = 0.5  # rad of PD target offset per unit of action
    soft_joint_limit_factor: float = 0.95  # share of the joint range the limit penalty allows

    def __post_init__(self) -> None:
        """Validate fields."""
        from mjx_walker.robots import ROBOTS  # local import: robots imports nothing from here

        canonicalize(self)
        if not isinstance(self.name, str) or self.name not in ROBOTS:
            _fail(self, "name", self.name, f"known robots are {sorted(ROBOTS)}")
        check_scalar(self, "action_scale", 0.0, 10.0, strict_lo=True)
        check_scalar(self, "soft_joint_limit_factor", 0.0, 1.0, strict_lo=True)


SIM_BACKENDS = ("mjx", "mujoco")


@dataclass(frozen=True)
class SimConfig:
    """Physics and control timing, and solver settings."""

    ctrl_dt: float = 0.02  # s, policy period (50 Hz)
    sim_dt: float = 0.004  # s, physics substep (5 per control step: the walking recipe's)
    iterations: int = 3  # constraint solver iterations
    ls_iterations: int = 5  # line-search iterations
    # Physics engine: "mjx" (MJX, in the compiled graph: the GPU path) or "mujoco" (MuJoCo C on the
    # CPU's cores through a callback, several times faster than MJX on a CPU; see physics_c.py).
    backend: str = "mjx"

    def __post_init__(self) -> None:
        """Validate fields, including that sim_dt divides ctrl_dt."""
        canonicalize(self)
        if self.backend not in SIM_BACKENDS:
            _fail(self, "backend", self.backend, f"expected one of {SIM_BACKENDS}")
        check_scalar(self, "ctrl_dt", 0.0, 1.0, strict_lo=True)
        check_scalar(self, "sim_dt", 0.0, 0.1, strict_lo=True)
        check_scalar(self, "iterations", 1, 100, integer=True)
        check_scalar(self, "ls_iterations", 1, 100, integer=True)
        ratio = self.ctrl_dt / self.sim_dt
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            _fail(
                self,
                "sim_dt",
                self.sim_dt,
                f"must divide ctrl_dt={self.ctrl_dt} into a whole number of substeps "
                f"(ctrl_dt/sim_dt = {ratio:.4f}); e.g. sim_dt={self.ctrl_dt / max(1, round(ratio))}",
            )
        if round(ratio) > MAX_SUBSTEPS:
            _fail(
                self,
                "sim_dt",
                self.sim_dt,
                f"gives {round(ratio)} substeps per control step (ctrl_dt={self.ctrl_dt}); at most "
                f"{MAX_SUBSTEPS} are allowed, i.e. sim_dt >= {self.ctrl_dt / MAX_SUBSTEPS:g}",
            )

    @property
    def n_substeps(self) -> int:
        """Physics substeps per control step."""
        return int(round(self.ctrl_dt / self.sim_dt))


@dataclass(frozen=True)
class CommandConfig:
    """Joystick task: velocity command ranges, resampling, gait clock, episode and termination."""

    # The walking recipe's box: wider boxes (Playground's +-1 m/s, +-1 rad/s) fell at their edges.
    lin_vel_x: Range = (-0.3, 0.8)  # m/s, forward
    lin_vel_y: Range = (-0.3, 0.3)  # m/s, left
    yaw_rate: Range = (-0.7, 0.7)  # rad/s
    zero_command_prob: float = 0.1  # share of commands that are exactly zero (standing still)
    # share of each component's draws put at an end of its range instead of inside it; > 0 trains
    # the box's corners (fast and sideways, backward and turning) that uniform draws rarely reach
    edge_prob: float = 0.0
    resample_interval_s: Range = (4.0, 8.0)  # s between mid-episode command re-samples
    gait_frequency_hz: Range = (1.25, 1.5)  # stepping frequency, sampled per episode
    episode_length: int = 1000  # control steps (20 s at 50 Hz)
    max_tilt_rad: float = 1.0  # torso tilt from upright that ends the episode
    min_height_fraction: float = 0.6  # base height / standing height below which the episode ends

    def __post_init__(self) -> None:
        """Validate fields."""
        canonicalize(self)
        check_range(self, "lin_vel_x", -5.0, 5.0)
        check_range(self, "lin_vel_y", -5.0, 5.0)
        check_range(self, "yaw_rate", -5.0, 5.0)
        check_scalar(self, "zero_command_prob", 0.0, 1.0)
        check_scalar(self, "edge_prob", 0.0, 1.0)
        check_range(self, "resample_interval_s", 0.02, None)
        check_range(self, "gait_frequency_hz", 0.1, 10.0)
        check_scalar(self, "episode_length", 1, None, integer=True)
        check_scalar(self, "max_tilt_rad", 0.0, math.pi, strict_lo=True)
        check_scalar(self, "min_height_fraction", 0.0, 1.0)


@dataclass(frozen=True)
class PushConfig:
    """Random pushes: a horizontal velocity kick to the base at random intervals."""

    interval_s: Range = (5.0, 10.0)  # s between pushes
    magnitude: Range = (0.1, 0.5)  # m/s added to the base's horizontal velocity
    enabled: bool = True

    def __post_init__(self) -> None:
        """Validate fields."""
        canonicalize(self)
        check_range(self, "interval_s", 0.02, None)
        check_range(self, "magnitude", 0.0, 10.0)
        check_bool(self, "enabled")


def _shaping(default: Any) -> Any:  # noqa: ANN401
    """A RewardConfig field that shapes terms rather than scaling one (not in ``term_names``)."""
    return field(default=default, metadata={"shaping": True})


@dataclass(frozen=True)
class RewardConfig:
    """Reward scales (0 disables a term) and shaping constants.

    The total reward is ``sum(scale * term) * ctrl_dt``, clipped at 0 from below when
    ``clip_total_at_zero`` (as MuJoCo Playground does for its humanoids).
    """

    # The walking recipe's weights: a sharp velocity kernel worth more, so that standing still under
    # a walking command pays little (Playground's 1.0 / 0.5 with sigma 0.5 stood still at 8M steps).
    tracking_lin_vel: float = 1.5
    tracking_ang_vel: float = 0.75
    lin_vel_z: float = 0.0
    ang_vel_xy: float = -0.15
    orientation: float = -1.0
    torques: float = -2.5e-5
    energy: float = 0.0
    action_rate: float = -0.01
    feet_air_time: float = 2.0
    feet_slip: float = -0.25
    feet_phase: float = 1.0
    joint_limits: float = -1.0
    pose: float = -1.0
    stand_still: float = 0.0  # the gait clock asks for stepping at zero command instead (step_in_place)
    alive: float = 0.0
    termination: float = -1.0
    # Shaping constants (not terms): marked as such where they are declared, so term_names cannot drift.
    tracking_sigma: float = _shaping(0.25)  # (m/s)^2, width of the exp tracking kernel
    swing_height: float = _shaping(0.08)  # m, foot apex height the phase reward asks for
    air_time_target: float = _shaping(0.2)  # s, air time above which feet_air_time pays
    step_in_place: bool = _shaping(True)  # feet_phase asks for stepping at zero command too
    clip_total_at_zero: bool = _shaping(True)

    def __post_init__(self) -> None:
        """Validate fields."""
        canonicalize(self)
        for name in self.term_names:
            check_scalar(self, name)
        check_scalar(self, "tracking_sigma", 0.0, None, strict_lo=True)
        check_scalar(self, "swing_height", 0.0, 1.0)
        check_scalar(self, "air_time_target", 0.0, 10.0)
        check_bool(self, "step_in_place")
        check_bool(self, "clip_total_at_zero")

    @property
    def term_names(self) -> tuple[str, ...]:
        """Names of all reward terms, in logging order."""
        return tuple(f.name for f in dataclasses.fields(self) if not f.metadata.get("shaping"))

    @property
    def scales(self) -> dict[str, float]:
        """Mapping from term name to its scale."""
        return {name: float(getattr(self, name)) for name in self.term_names}


@dataclass(frozen=True)
class RandomizationConfig:
    """Domain randomization ranges; each is re-sampled at every episode reset.

    A zero-width range (low == high) at the nominal value turns that randomization off.
    """

    friction: Range = (0.4, 1.0)  # foot-floor sliding friction coefficient
    mass_scale: Range = (0.9, 1.1)  # per-link mass (and inertia) multiplier
    payload_kg: Range = (-0.5, 1.5)  # mass added to the torso
    com_offset_m: Range = (-0.02, 0.02)  # torso centre-of-mass shift, per axis
    kp_scale: Range = (0.9, 1.1)  # per-joint stiffness multiplier
    kd_scale: Range = (0.9, 1.1)  # per-joint damping-gain multiplier
    armature_scale: Range = (1.0, 1.05)
    damping_scale: Range = (0.8, 1.2)  # passive joint damping multiplier
    frictionloss_scale: Range = (0.5, 1.5)
    lag_substeps: tuple[int, int] = (0, 4)  # PD target delay in physics substeps (inclusive): 0-16 ms
    # Gear play per joint, the dead band's half-width (mjx_walker.pd): 0-0.01 rad (0-0.57 deg).
    # Gearbox makers list backlash of about 3-15 arcmin (0.05-0.25 deg) for precision planetary
    # stages and 15-60 arcmin (0.25-1 deg) for economy ones; a quasi-direct-drive actuator's
    # single planetary stage sits at the low end, a worn or hobby-grade train at the high end.
    backlash_rad: Range = (0.0, 0.01)
    # IMU errors held for an episode. A MEMS gyro's bias left after start-up calibration is of the
    # order of 0.5-1 deg/s (0.01-0.02 rad/s) per axis; an IMU board mounted by hand sits within
    # about 1 deg (0.017 rad) of the frame it is assumed to have, in roll and in pitch.
    gyro_bias: Range = (-0.02, 0.02)  # rad/s, per axis
    imu_tilt_rad: Range = (-0.017, 0.017)  # rad, roll and pitch of the IMU's mounting
    # Each joint starts an episode this far from the default pose (rad), as `evaluate` starts it:
    # a robot set down by hand or released from a gantry is never exactly at the default pose.
    start_joint_offset_rad: Range = (-0.05, 0.05)
    max_lag_substeps: int = 10  # size of the target history buffer - 1

    def __post_init__(self) -> None:
        """Validate fields, including that the lag range fits the buffer."""
        canonicalize(self)
        check_range(self, "friction", 0.0, 5.0)
        check_range(self, "mass_scale", 0.01, 10.0)
        check_range(self, "payload_kg", -100.0, 100.0)
        check_range(self, "com_offset_m", -1.0, 1.0)
        for name in ("kp_scale", "kd_scale", "armature_scale", "damping_scale"):
            check_range(self, name, 0.0, 10.0)
        check_range(self, "frictionloss_scale", 0.0, 10.0)
        check_range(self, "backlash_rad", 0.0, 0.2)
        check_range(self, "gyro_bias", -1.0, 1.0)
        check_range(self, "imu_tilt_rad", -0.2, 0.2)
        check_range(self, "start_joint_offset_rad", -0.5, 0.5)
        check_scalar(self, "max_lag_substeps", 0, 1000, integer=True)
        check_int_range(self, "lag_substeps", 0)
        hi = self.lag_substeps[1]
        if hi > self.max_lag_substeps:
            _fail(
                self,
                "lag_substeps",
                self.lag_substeps,
                f"upper bound {hi} exceeds the target buffer (max_lag_substeps="
                f"{self.max_lag_substeps}); raise max_lag_substeps or lower the range",
            )

    @classmethod
    def nominal(cls) -> RandomizationConfig:
        """All ranges collapsed to the nominal model: no randomization."""
        return cls(
            friction=(0.6, 0.6),
            mass_scale=(1.0, 1.0),
            payload_kg=(0.0, 0.0),
            com_offset_m=(0.0, 0.0),
            kp_scale=(1.0, 1.0),
            kd_scale=(1.0, 1.0),
            armature_scale=(1.0, 1.0),
            damping_scale=(1.0, 1.0),
            frictionloss_scale=(1.0, 1.0),
            lag_substeps=(0, 0),
            backlash_rad=(0.0, 0.0),
            gyro_bias=(0.0, 0.0),
            imu_tilt_rad=(0.0, 0.0),
            start_joint_offset_rad=(0.0, 0.0),
        )


@dataclass(frozen=True)
class NoiseConfig:
    """Uniform noise on the actor's observations: value +- level * scale."""

    level: float = 1.0  # 0 disables all observation noise
    gyro: float = 0.2  # rad/s
    gravity: float = 0.05  # unit vector components
    joint_pos: float = 0.03  # rad
    joint_vel: float = 1.5  # rad/s

    def __post_init__(self) -> None:
        """Validate fields."""
        canonicalize(self)
        for f in dataclasses.fields(self):
            check_scalar(self, f.name, 0.0, None)


@dataclass(frozen=True)
class TerrainConfig:
    """The ground (mjx_walker.terrain) and, on the ``tiles`` field, the level curriculum.

    Each episode starts at the centre of a tile of its env's level. An episode that ends standing
    after walking ``promote_m`` moves its env one level up; a fall moves it one level down.
    """

    kind: str = "flat"  # "flat", "tiles" (training), or "rough:H", "steps:H", "step:H" (H m, evaluation)
    max_height_m: float = 0.05  # the top level's bump and block height (tiles)
    levels: int = 6  # rows of tiles, level 0 flat
    start_levels: tuple[int, int] = (0, 1)  # an env's first level, drawn uniformly (inclusive)
    columns: int = 4  # tiles per level, alternately rough and stepped
    tile_m: float = 8.0  # side of a tile, m
    cell_m: float = 0.1  # heightfield grid spacing, m
    promote_m: float = 2.0  # distance walked in an episode that moves an env up a level, m
    seed: int = 0  # the field's random layout

    def __post_init__(self) -> None:
        """Validate fields."""
        canonicalize(self)
        from mjx_walker.terrain import parse_kind

        try:
            parse_kind(self.kind)
        except ValueError as err:
            _fail(self, "kind", self.kind, str(err))
        check_scalar(self, "max_height_m", 0.0, 0.5, strict_lo=True)
        check_scalar(self, "levels", 1, 100, integer=True)
        check_int_range(self, "start_levels", 0)
        if self.start_levels[1] >= self.levels:
            _fail(self, "start_levels", self.start_levels, f"expected levels within 0..{self.levels - 1} (levels)")
        check_scalar(self, "columns", 1, 100, integer=True)
        check_scalar(self, "tile_m", 2.0, 100.0)
        check_scalar(self, "cell_m", 0.02, 1.0)
        check_scalar(self, "promote_m", 0.0, None)
        check_scalar(self, "seed", 0, None, integer=True)


@dataclass(frozen=True)
class EnvConfig:
    """Everything that defines the walking environment."""

    robot: RobotConfig = field(default_factory=RobotConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    command: CommandConfig = field(default_factory=CommandConfig)
    push: PushConfig = field(default_factory=PushConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    randomization: RandomizationConfig = field(default_factory=RandomizationConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    terrain: TerrainConfig = field(default_factory=TerrainConfig)

    def __post_init__(self) -> None:
        """Check each section has the right type (catches swapped arguments early)."""
        for f in dataclasses.fields(self):
            expected = f.default_factory  # type: ignore[misc]
            value = getattr(self, f.name)
            if not isinstance(value, expected):  # type: ignore[arg-type]
                _fail(self, f.name, value, f"expected a {expected.__name__}")  # type: ignore[union-attr]


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (nested) config dataclass."""
    return dataclasses.asdict(cfg)


# Fields added after configs were first saved: a saved config without one was trained without what
# it models, so it reads back as "off", not as today's default (a resumed run, a reloaded policy or
# a re-exported checkpoint keeps the physics and the network it was trained with).
ABSENT_MEANS: dict[str, dict[str, Any]] = {
    "RandomizationConfig": {
        "backlash_rad": (0.0, 0.0),
        "gyro_bias": (0.0, 0.0),
        "imu_tilt_rad": (0.0, 0.0),
        "start_joint_offset_rad": (0.0, 0.0),
    },
    "PPOConfig": {"symmetric_policy": False},
}


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a (nested) config dataclass from :func:`to_dict` output, validating every field.

    A field missing from ``data`` takes its default, or for a field added later, :data:`ABSENT_MEANS`.
    """
    kwargs: dict[str, Any] = {k: v for k, v in ABSENT_MEANS.get(cls.__name__, {}).items() if k not in data}
    names = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(f"{cls.__name__} has no field {key!r}; fields are {sorted(names)}")
        f = names[key]
        sub = f.default_factory if f.default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(sub) and isinstance(value, dict):
            kwargs[key] = from_dict(sub, value)  # type: ignore[arg-type]
        elif isinstance(value, list):
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = value
    return cls(**kwargs)
