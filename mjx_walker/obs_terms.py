"""The observation vocabulary: named terms, their sizes, and the one builder of observation vectors.

A policy's observation is an ordered list of terms from :data:`TERMS`, each with a scale. The
environment's own actor observation is one such list (:data:`ACTOR_TERMS`); a policy trained
elsewhere (MuJoCo Playground, Isaac Lab) describes its own list in a policy spec
(:mod:`mjx_walker.policy_spec`). :func:`build_obs` turns sensor readings into the vector for any
list, on NumPy or JAX arrays, so the environment, the export checks and the runner share it.
NumPy-only at import: the robot-side runner uses it without JAX.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mjx_walker._xp import xp_of


@dataclass(frozen=True)
class Term:
    """One observation term: its size (``per_joint`` times nu, else ``size``) and meaning."""

    size: int
    per_joint: bool
    meaning: str
    sim_only: bool = False  # ground truth a real robot cannot measure


TERMS: dict[str, Term] = {
    "base_linvel": Term(3, False, "m/s, IMU-site linear velocity in the IMU frame", sim_only=True),
    "gyro": Term(3, False, "rad/s, angular velocity in the IMU frame"),
    "gravity": Term(3, False, "unit gravity direction in the IMU frame ((0, 0, -1) upright)"),
    "command": Term(3, False, "vx m/s, vy m/s, yaw rate rad/s"),
    "joint_pos": Term(1, True, "rad, joint positions relative to the default pose"),
    "joint_vel": Term(1, True, "rad/s, joint velocities"),
    "last_action": Term(1, True, "the previous policy output (after clipping)"),
    "gait_phase": Term(4, False, "cos(left), cos(right), sin(left), sin(right) of the gait clock"),
    "gait_phase_cos": Term(2, False, "cos(left), cos(right) of the gait clock"),
    "gait_phase_sin": Term(2, False, "sin(left), sin(right) of the gait clock"),
}

# mjx_walker's own actor observation, in order.
ACTOR_TERMS = ("gyro", "gravity", "joint_pos", "joint_vel", "last_action", "command", "gait_phase")


def term_size(name: str, nu: int) -> int:
    """Length of term ``name`` for a robot with ``nu`` actuated joints."""
    term = TERMS[name]
    return term.size * nu if term.per_joint else term.size


def joints_for_size(terms: Sequence[str], size: int) -> int:
    """The number of joints ``nu`` for which ``terms`` add up to ``size`` numbers; ValueError if none does."""
    fixed = sum(TERMS[t].size for t in terms if not TERMS[t].per_joint)
    per_joint = sum(TERMS[t].size for t in terms if TERMS[t].per_joint)
    nu, rest = divmod(size - fixed, per_joint) if per_joint else (0, size - fixed)
    if rest or nu <= 0:
        raise ValueError(f"no joint count makes the terms {list(terms)} add up to {size} numbers")
    return nu


def layout_json(terms: Sequence[tuple[str, float]], nu: int) -> list[dict[str, Any]]:
    """[{name, start, size, scale}] for ``terms`` [(name, scale)], in order."""
    out, start = [], 0
    for name, scale in terms:
        size = term_size(name, nu)
        out.append({"name": name, "start": start, "size": size, "scale": float(scale)})
        start += size
    return out


def check_layout(layout: Sequence[Mapping[str, Any]], nu: int, where: str = "observation") -> int:
    """The layout's total size; ValueError naming the block if a term is unknown or mis-sized."""
    start = 0
    for i, block in enumerate(layout):
        name = block.get("name")
        if name not in TERMS:
            raise ValueError(f"{where}[{i}]: unknown term {name!r}; known terms: {sorted(TERMS)}")
        size = term_size(name, nu)
        if block.get("size", size) != size or block.get("start", start) != start:
            raise ValueError(
                f"{where}[{i}] {name!r}: start {block.get('start')} size {block.get('size')}, "
                f"expected start {start} size {size} for {nu} joints"
            )
        scale = block.get("scale", 1.0)
        if not isinstance(scale, int | float) or isinstance(scale, bool) or not abs(scale) < float("inf"):
            raise ValueError(f"{where}[{i}] {name!r}: scale {scale!r} is not a finite number")
        start += size
    return start


def sim_only_terms(layout: Sequence[Mapping[str, Any]]) -> list[str]:
    """The layout's terms that only a simulator can provide."""
    return [b["name"] for b in layout if TERMS[b["name"]].sim_only]


def term_value(name: str, readings: Mapping[str, Any], xp: Any) -> Any:  # noqa: ANN401
    """The unscaled value of term ``name`` from ``readings`` (see :func:`build_obs`)."""
    if name == "joint_pos":
        return readings["joint_pos"] - readings["default_joint_pos"]
    if name.startswith("gait_phase"):
        phase = readings["gait_phase"]
        parts = {"gait_phase": (xp.cos(phase), xp.sin(phase)), "gait_phase_cos": (xp.cos(phase),)}
        return xp.concatenate(parts.get(name, (xp.sin(phase),)))
    if name not in readings:
        raise KeyError(f"observation term {name!r} needs reading {name!r}, which this source does not provide")
    return readings[name]


def build_obs(layout: Sequence[Mapping[str, Any]] | Sequence[str], readings: Mapping[str, Any]) -> Any:  # noqa: ANN401
    """Observation (obs_dim,) float32 for ``layout`` (blocks, or bare term names at scale 1).

    ``readings``: gyro (3,), gravity (3,), joint_pos (nu,), default_joint_pos (nu,), joint_vel
    (nu,), last_action (nu,), command (3,), gait_phase (2,) rad and, in simulation, base_linvel
    (3,); NumPy or JAX arrays, in the units of :data:`TERMS`.
    """
    xp = xp_of(*readings.values())
    parts = []
    for block in layout:
        name, scale = (block, 1.0) if isinstance(block, str) else (block["name"], block.get("scale", 1.0))
        value = term_value(name, readings, xp)
        parts.append(value if scale == 1.0 else value * scale)
    return xp.concatenate(parts).astype(xp.float32)
