"""What an evaluation condition is: drawn, shifted, pinned or nominal physics, lag, push; sweep grids.

Physics parameters (``ENVELOPE_KEYS``) are drawn per episode from the training randomization
envelope scaled by ``shift`` about a centre: ``"envelope"`` (the middle of each training range:
friction 0.7, payload 0.5 kg for the default config) or ``"nominal"`` (the robot's own model:
the scene's floor friction, 0.6 for the default robot, mass x1, no payload, gains x1). Either way
shift 1 is the training envelope and shift 0 is the centre. A *pinned* parameter overrides the
draw with one exact value. A *sweep* turns one quantity into a grid of conditions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENVELOPE_KEYS = ("friction", "mass_scale", "payload_kg", "kp_scale", "kd_scale")
CENTRES = ("envelope", "nominal")
SWEEP_NAMES = ("lag_ms", *ENVELOPE_KEYS, "push_mps", "backlash_deg")
MAX_BACKLASH_DEG = 10.0
_FLOORS = {"friction": 0.05, "mass_scale": 0.1, "kp_scale": 0.1, "kd_scale": 0.0}
_PIN_MINIMA = {"friction": 0.0, "mass_scale": 1e-6, "kp_scale": 0.0, "kd_scale": 0.0}


class EvaluationError(ValueError):
    """A request that cannot be evaluated as asked (a bad argument or combination)."""


@dataclass(frozen=True)
class Sweep:
    """One quantity (a name in ``SWEEP_NAMES``) over a grid of values."""

    name: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class Condition:
    """One evaluation condition: actuation lag, push size and the physics values pinned in it."""

    lag_ms: float
    push_mps: float = 0.0
    pinned: dict[str, float] = field(default_factory=dict)
    backlash_deg: float = 0.0  # every joint's gear play (the PD dead band's half-width), degrees


def nominal_values(floor_friction: float) -> dict[str, float]:
    """The robot's nominal model as envelope values: scene friction, mass x1, no payload, gains x1."""
    return {"friction": float(floor_friction), "mass_scale": 1.0, "payload_kg": 0.0, "kp_scale": 1.0, "kd_scale": 1.0}


def centre_values(randomization: Mapping[str, Any], centre: str, floor_friction: float) -> dict[str, float]:
    """The point ``shift`` scales about (what shift 0 means): range midpoints or the nominal model."""
    if centre == "envelope":
        return {k: (float(randomization[k][0]) + float(randomization[k][1])) / 2 for k in ENVELOPE_KEYS}
    if centre == "nominal":
        return nominal_values(floor_friction)
    raise EvaluationError(f"centre must be one of {list(CENTRES)}, got {centre!r}")


def scaled_envelope(
    randomization: Mapping[str, Any], factor: float, about: Mapping[str, float] | None = None
) -> dict[str, list[float]]:
    """Training ranges scaled by ``factor`` about ``about`` (default: their midpoints), kept valid.

    Each end moves to ``c + factor * (end - c)``: factor 1 is the training range, 0 the point c.
    """
    out = {}
    for key in ENVELOPE_KEYS:
        lo, hi = (float(v) for v in randomization[key])
        c = (lo + hi) / 2 if about is None else float(about[key])
        floor = _FLOORS.get(key, -math.inf)
        out[key] = [max(c + factor * (lo - c), floor), max(c + factor * (hi - c), floor)]
    return out


def check_pinned(pinned: Mapping[str, float]) -> dict[str, float]:
    """``pinned`` as floats, after checking names and physical validity; EvaluationError if not."""
    out = {}
    for key, value in pinned.items():
        if key not in ENVELOPE_KEYS:
            raise EvaluationError(f"cannot pin {key!r}: pinnable are {list(ENVELOPE_KEYS)}")
        value = float(value)
        low = _PIN_MINIMA.get(key, -math.inf)
        if not math.isfinite(value) or value < low:
            raise EvaluationError(f"{key} = {value:g} is not physical (needs a finite value >= {low:g})")
        out[key] = value
    return out


def _numbers(text: str, sep: str) -> list[float]:
    """Floats separated by ``sep``; EvaluationError naming ``text`` if any is not a number."""
    try:
        return [float(v) for v in text.split(sep)]
    except ValueError:
        raise EvaluationError(f"{text!r}: expected numbers separated by {sep!r}") from None


def parse_sweep(text: str) -> Sweep:
    """``NAME=START:STOP:STEP`` (stop included) or ``NAME=V1,V2,...`` as a Sweep; EvaluationError if not."""
    name, sep, spec = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or name not in SWEEP_NAMES:
        raise EvaluationError(f"{text!r}: expected NAME=START:STOP:STEP with NAME one of {', '.join(SWEEP_NAMES)}")
    if ":" in spec:
        parts = _numbers(spec, ":")
        if len(parts) != 3 or not parts[2] > 0 or parts[1] < parts[0]:
            raise EvaluationError(f"{text!r}: expected NAME=START:STOP:STEP with STEP > 0 and STOP >= START")
        start, stop, step = parts
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > 200:
            raise EvaluationError(f"{text!r}: {count} grid points; 200 at most")
        values = tuple(round(start + i * step, 12) for i in range(count))
    else:
        values = tuple(_numbers(spec, ","))
    for v in values:
        if name in ENVELOPE_KEYS:
            check_pinned({name: v})
        elif name == "backlash_deg" and not 0 <= v <= MAX_BACKLASH_DEG:
            raise EvaluationError(f"{text!r}: backlash_deg must be in [0, {MAX_BACKLASH_DEG:g}] degrees")
        elif not (math.isfinite(v) and v >= 0):
            raise EvaluationError(f"{text!r}: {name} must be finite and >= 0")
    return Sweep(name, values)


def build_conditions(
    lags_ms: list[float],
    sweep: Sweep | None,
    pinned: Mapping[str, float],
    push_mps: float,
    backlash_deg: float = 0.0,
) -> list[Condition]:
    """The conditions to run: one per lag, or one per sweep value (with a single lag)."""
    if sweep is None:
        return [Condition(ms, push_mps, dict(pinned), backlash_deg) for ms in lags_ms]
    if sweep.name == "lag_ms":
        return [Condition(v, push_mps, dict(pinned), backlash_deg) for v in sweep.values]
    if len(lags_ms) != 1:
        raise EvaluationError(f"--sweep {sweep.name} runs at one actuation lag; give one --lag-ms value")
    if sweep.name == "push_mps":
        return [Condition(lags_ms[0], v, dict(pinned), backlash_deg) for v in sweep.values]
    if sweep.name == "backlash_deg":
        if backlash_deg:
            raise EvaluationError("--sweep backlash_deg and --backlash-deg contradict each other; give one of them")
        return [Condition(lags_ms[0], push_mps, dict(pinned), v) for v in sweep.values]
    if sweep.name in pinned:
        raise EvaluationError(f"--sweep {sweep.name} and a pinned {sweep.name} contradict each other")
    return [Condition(lags_ms[0], push_mps, {**pinned, sweep.name: v}, backlash_deg) for v in sweep.values]


def condition_value(condition: Mapping[str, Any], name: str) -> float:
    """The value of ``name`` in a report's condition (lag_ms, push_mps, backlash_deg, or a pinned parameter)."""
    if name == "backlash_deg" and name not in condition:  # reports from before backlash was modelled
        return 0.0
    return float(condition[name] if name in condition else condition["pinned"][name])
