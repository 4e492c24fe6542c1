"""Every field of a policy's metadata, checked when the runner loads it.

A policy file's metadata is JSON anyone could have edited, and the runner computes targets,
gains, timing and command limits from it. :func:`check_policy_meta` checks each field of
:class:`~mjx_walker.onnx_meta.PolicyMeta` and raises :class:`~mjx_walker.runner.safety.SafetyError`
naming the first bad one, its value and what is allowed, before any motor is commanded. Whether
the observation layout fits the ONNX graph is :func:`mjx_walker.runner.inference.check_compatible`'s
to say.
"""

from __future__ import annotations

import math
import numbers
import re
import reprlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from mjx_walker.runner.safety import COMMAND_KEYS, SafetyError

if TYPE_CHECKING:
    from mjx_walker.onnx_meta import PolicyMeta

# training randomization ranges that evaluation draws from: each [low, high]
ENVELOPE_RANGES = ("friction", "mass_scale", "payload_kg", "kp_scale", "kd_scale", "lag_substeps")
NOISE_KEYS = ("level", "gyro", "gravity", "joint_pos", "joint_vel")
_SHOW = reprlib.Repr()
_SHOW.maxlist = _SHOW.maxdict = 6
_SHOW.maxstring = 60


def fail(name: str, value: object, allowed: str) -> SafetyError:
    """The error for field ``name`` holding ``value`` where ``allowed`` is expected."""
    return SafetyError(f"policy metadata {name} = {_SHOW.repr(value)} is invalid: expected {allowed}")


def is_number(value: object) -> bool:
    """A real number, not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def is_int(value: object) -> bool:
    """An integer, not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def check_scalar(name: str, value: object, allowed: str, test: Callable[[float], bool] = lambda v: True) -> float:
    """``value`` as a float if it is a finite number passing ``test``."""
    if not (is_number(value) and math.isfinite(value) and test(float(value))):
        raise fail(name, value, allowed)
    return float(value)


def check_int(name: str, value: object, low: int) -> int:
    """``value`` if it is an integer >= ``low``."""
    if not (is_int(value) and value >= low):
        raise fail(name, value, f"a whole number >= {low}")
    return int(value)


def check_vector(
    name: str, value: object, size: int, allowed: str, test: Callable[[np.ndarray], Any] | None = None
) -> np.ndarray:
    """``value`` (a list of ``size`` finite numbers passing ``test``) as a float64 array (size,)."""
    ok = isinstance(value, list | tuple | np.ndarray) and len(value) == size
    ok = ok and all(is_number(v) for v in np.asarray(value, dtype=object).ravel()) and np.ndim(value) == 1
    arr = np.asarray(value, dtype=np.float64) if ok else np.zeros(0)
    if not ok or not np.all(np.isfinite(arr)) or (test is not None and not np.all(test(arr))):
        raise fail(name, value, allowed)
    return arr


def check_range(name: str, value: object, allowed: str) -> tuple[float, float]:
    """``value`` as [low, high]: two finite numbers, low <= high."""
    low, high = check_vector(name, value, 2, f"[low, high] with low <= high, {allowed}")
    if low > high:
        raise fail(name, value, f"[low, high] with low <= high, {allowed}")
    return float(low), float(high)


def check_mapping(name: str, value: object, what: str = "a table") -> Mapping[str, Any]:
    """``value`` if it is a dict with string keys."""
    if not (isinstance(value, dict) and all(isinstance(k, str) for k in value)):
        raise fail(name, value, what)
    return value


def _joints(meta: PolicyMeta) -> int:
    """Number of joints after checking ``joint_names`` (>= 1 distinct, non-empty strings)."""
    names = meta.joint_names
    ok = isinstance(names, list | tuple) and len(names) >= 1
    ok = ok and all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names)
    if not ok:
        raise fail("joint_names", names, "a list of >= 1 distinct joint names")
    return len(names)


def _check_joint_fields(meta: PolicyMeta, nu: int) -> None:
    """Per-joint vectors: pose, gains, torque limits, joint limits (lower <= default <= upper)."""
    each = f"{nu} finite values (one per joint) in"
    for name, unit, test in (
        ("default_joint_pos", "rad", None),
        ("joint_lower", "rad", None),
        ("joint_upper", "rad", None),
        ("kp", "N·m/rad >= 0", lambda v: v >= 0),
        ("kd", "N·m·s/rad >= 0", lambda v: v >= 0),
        ("torque_limit", "N·m > 0", lambda v: v > 0),
    ):
        check_vector(name, getattr(meta, name), nu, f"{each} {unit}", test)
    lower, upper, default = (meta.array(n) for n in ("joint_lower", "joint_upper", "default_joint_pos"))
    if np.any(lower > upper):
        j = int(np.argmax(lower > upper))
        raise SafetyError(
            f"policy metadata joint_lower[{j}] = {lower[j]:g} > joint_upper[{j}] = {upper[j]:g} rad: "
            "expected joint_lower <= joint_upper"
        )
    outside = (default < lower - 1e-6) | (default > upper + 1e-6)
    if np.any(outside):
        j = int(np.argmax(outside))
        raise SafetyError(
            f"policy metadata default_joint_pos[{j}] = {default[j]:g} rad is invalid: expected a pose within "
            f"the joint's limits [{lower[j]:g}, {upper[j]:g}] rad"
        )


def _check_timing(meta: PolicyMeta) -> None:
    """Control and physics periods, solver settings, gait clock."""
    ctrl_dt = check_scalar("ctrl_dt", meta.ctrl_dt, "a finite control period > 0 s", lambda v: v > 0)
    sim_allowed = f"a finite physics step > 0 s, at most ctrl_dt ({ctrl_dt:g} s)"
    check_scalar("sim_dt", meta.sim_dt, sim_allowed, lambda v: 0 < v <= ctrl_dt)
    check_int("solver_iterations", meta.solver_iterations, 1)
    check_int("solver_ls_iterations", meta.solver_ls_iterations, 1)
    check_scalar("gait_frequency_hz", meta.gait_frequency_hz, "a finite frequency >= 0 Hz", lambda v: v >= 0)
    low, _ = check_range("gait_frequency_range_hz", meta.gait_frequency_range_hz, "Hz")
    if low < 0:
        raise fail("gait_frequency_range_hz", meta.gait_frequency_range_hz, "[low, high] Hz with 0 <= low <= high")
    check_vector("initial_gait_phase", meta.initial_gait_phase, 2, "2 finite phases in rad")


def _check_policy_io(meta: PolicyMeta) -> None:
    """Action scale, observation layout (its structure), sizes and command ranges."""
    check_scalar("action_scale", meta.action_scale, "a finite scale >= 0 rad", lambda v: v >= 0)
    layout = meta.obs_layout
    blocks_ok = isinstance(layout, list) and len(layout) >= 1
    blocks_ok = blocks_ok and all(isinstance(b, dict) and isinstance(b.get("name"), str) for b in layout)
    if not blocks_ok:
        raise fail("obs_layout", layout, "a non-empty list of observation blocks {name, start, size, scale}")
    for i, block in enumerate(layout):
        for key in ("start", "size"):
            if key in block and not (is_int(block[key]) and block[key] >= 0):
                raise fail(f"obs_layout[{i}].{key}", block[key], "a whole number >= 0")
    check_int("obs_dim", meta.obs_dim, 1)
    check_int("action_dim", meta.action_dim, 1)
    ranges = meta.command_ranges
    keys = [k for k, _ in COMMAND_KEYS]
    if not (isinstance(ranges, dict) and sorted(ranges) == sorted(keys)):
        raise fail("command_ranges", ranges, f"a table with exactly the keys {keys}, each [low, high]")
    for key, unit in COMMAND_KEYS:
        check_range(f"command_ranges.{key}", ranges[key], f"finite, in {unit}")


def _check_termination(meta: PolicyMeta) -> None:
    """Training's fall test: tilt and height fraction."""
    check_scalar("max_tilt_rad", meta.max_tilt_rad, "an angle in (0, pi] rad", lambda v: 0 < v <= math.pi)
    check_scalar("min_height_fraction", meta.min_height_fraction, "a fraction in [0, 1)", lambda v: 0 <= v < 1)


def _check_training_record(meta: PolicyMeta) -> None:
    """Randomization envelope, noise, digest, versions, ONNX versions, parity, extra."""
    rnd = check_mapping("randomization", meta.randomization, f"a table with at least {list(ENVELOPE_RANGES)}")
    for key in ENVELOPE_RANGES:
        if key not in rnd:
            raise fail("randomization", rnd, f"a table with at least {list(ENVELOPE_RANGES)} (lacks {key!r})")
    for key, value in rnd.items():
        if not is_number(value):
            check_range(f"randomization.{key}", value, "finite (or a single finite number)")
        elif not math.isfinite(value):
            raise fail(f"randomization.{key}", value, "a finite number or [low, high]")
    noise = check_mapping("noise", meta.noise, f"a table with {list(NOISE_KEYS)}")
    for key in NOISE_KEYS:
        check_scalar(f"noise.{key}", noise.get(key), "a finite number >= 0", lambda v: v >= 0)
    digest = meta.config_digest
    if not (isinstance(digest, str) and (digest == "" or re.fullmatch(r"[0-9a-f]{64}", digest))):
        raise fail("config_digest", digest, "a sha256 hex digest (64 lowercase hex digits), or empty")
    versions = check_mapping("versions", meta.versions, "a table of package name -> version string")
    if not all(isinstance(v, str) for v in versions.values()):
        raise fail("versions", versions, "a table of package name -> version string")
    check_int("opset", meta.opset, 1)
    check_int("ir_version", meta.ir_version, 1)
    for name in ("parity_max_abs_diff", "parity_tolerance"):
        value = getattr(meta, name)
        if not (is_number(value) and (math.isnan(value) or 0 <= value < math.inf)):
            raise fail(name, value, "a finite number >= 0, or NaN (not measured)")
    check_mapping("extra", meta.extra)


def check_policy_meta(meta: PolicyMeta) -> None:
    """SafetyError naming the first field of ``meta`` the runner cannot work with, its value and the rule.

    Bad metadata would otherwise hang the loop (``ctrl_dt`` <= 0 or NaN), send NaN targets or gains
    to the motors, disable a check (a NaN torque limit) or fail mid-run with a traceback.
    """
    if not (isinstance(meta.robot, str) and meta.robot):
        raise fail("robot", meta.robot, "a robot name (a non-empty string)")
    nu = _joints(meta)
    _check_joint_fields(meta, nu)
    _check_timing(meta)
    _check_policy_io(meta)
    _check_termination(meta)
    _check_training_record(meta)


# every PolicyMeta field the functions above check (a test holds it equal to PolicyMeta's fields)
CHECKED_FIELDS = frozenset(
    {
        "robot",
        "joint_names",
        "default_joint_pos",
        "action_scale",
        "kp",
        "kd",
        "torque_limit",
        "joint_lower",
        "joint_upper",
        "ctrl_dt",
        "sim_dt",
        "solver_iterations",
        "solver_ls_iterations",
        "obs_layout",
        "obs_dim",
        "action_dim",
        "command_ranges",
        "gait_frequency_hz",
        "gait_frequency_range_hz",
        "initial_gait_phase",
        "max_tilt_rad",
        "min_height_fraction",
        "randomization",
        "noise",
        "config_digest",
        "versions",
        "opset",
        "ir_version",
        "parity_max_abs_diff",
        "parity_tolerance",
        "extra",
    }
)
