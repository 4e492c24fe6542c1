"""The evaluation's measures, as pure functions of recorded episodes.

Per condition: the no-fall rate with its 95 % Wilson interval, and velocity tracking over the
*steady window* (policy ticks at or after ``settle_s``) of the episodes that did not fall, two ways:

* ``lin_speed_error_mean``: ``|mean(v_xy over the window) - command_xy|`` (norm over vx, vy): does
  the robot go where it is told on average; blind to wobble.
* ``lin_vel_rms``: ``sqrt(mean over ticks |v_xy - command_xy|^2)``: per-tick error, wobble included.

and the same two for the yaw rate. ``lin_vel_error`` / ``yaw_rate_error`` are the older measure,
kept for existing readers: the per-tick mean absolute error from the first policy tick to the end
or the fall, every episode (start-up and falls included).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

Z95 = 1.96  # two-sided 95 % normal quantile
DEFAULT_SETTLE_S = 2.0  # s: the steady window starts this long after the episode start
TRACKING_KEYS = ("lin_speed_error_mean", "lin_vel_rms", "yaw_rate_error_mean", "yaw_rate_rms")
LEGACY_KEYS = ("lin_vel_error", "yaw_rate_error")
MEASURES = {
    "no_fall_rate": "share of episodes that did not fall (training's termination or a safety trip)",
    "no_fall_ci95": "95 % Wilson score interval [low, high] of no_fall_rate over the condition's episodes",
    "survivors": "episodes that did not fall; the tracking measures average over these",
    "lin_speed_error_mean": "m/s: |mean base velocity (vx, vy) over the steady window - command|, per survivor; "
    "mean over survivors",
    "lin_vel_rms": "m/s: per-tick RMS of |v_xy - command| over the steady window, per survivor; mean over survivors",
    "yaw_rate_error_mean": "rad/s: |mean yaw rate over the steady window - command|, per survivor; mean over survivors",
    "yaw_rate_rms": "rad/s: per-tick RMS of (yaw rate - command) over the steady window; mean over survivors",
    "settle_s": "s: the steady window starts this long after the episode start",
    "lin_vel_error": "legacy, m/s: per-tick mean |v_xy - command| from the first policy tick to the end or the "
    "fall, all episodes (start-up and falls included)",
    "yaw_rate_error": "legacy, rad/s: as lin_vel_error for the yaw rate",
}


def wilson95(successes: int, n: int) -> list[float] | None:
    """95 % Wilson score interval [low, high] of ``successes`` out of ``n`` (None when n is 0)."""
    if n <= 0:
        return None
    p, z2 = successes / n, Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return [max(centre - half, 0.0), min(centre + half, 1.0)]


def tracking_errors(
    times: Sequence[float],
    lin_vel_xy: Sequence[Sequence[float]] | np.ndarray,
    yaw_rate: Sequence[float],
    command: Sequence[float],
    settle_s: float,
) -> dict[str, Any]:
    """One episode's steady-window measures (TRACKING_KEYS, None if the window is empty) and its length."""
    t = np.asarray(times, float)
    keep = t >= settle_s - 1e-9
    v = np.asarray(lin_vel_xy, float).reshape(-1, 2)[keep]
    w = np.asarray(yaw_rate, float)[keep]
    if not keep.any():
        return {"steady_ticks": 0, **dict.fromkeys(TRACKING_KEYS)}
    cmd_xy, cmd_yaw = np.asarray(command[:2], float), float(command[2])
    return {
        "steady_ticks": int(keep.sum()),
        "lin_speed_error_mean": float(np.linalg.norm(v.mean(axis=0) - cmd_xy)),
        "lin_vel_rms": float(np.sqrt(np.mean(np.sum((v - cmd_xy) ** 2, axis=1)))),
        "yaw_rate_error_mean": float(abs(w.mean() - cmd_yaw)),
        "yaw_rate_rms": float(np.sqrt(np.mean((w - cmd_yaw) ** 2))),
    }


def legacy_errors(
    lin_vel_xy: Sequence[Sequence[float]] | np.ndarray, yaw_rate: Sequence[float], command: Sequence[float]
) -> dict[str, float | None]:
    """The older per-tick mean absolute errors over every recorded tick (None if there are none)."""
    v = np.asarray(lin_vel_xy, float).reshape(-1, 2)
    if not len(v):
        return dict.fromkeys(LEGACY_KEYS)
    return {
        "lin_vel_error": float(np.mean(np.linalg.norm(v - np.asarray(command[:2], float), axis=1))),
        "yaw_rate_error": float(np.mean(np.abs(np.asarray(yaw_rate, float) - float(command[2])))),
    }


def _mean(values: list[float | None]) -> float | None:
    """Mean of the non-None values (None if there are none)."""
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def summarize(episodes: list[dict[str, Any]], settle_s: float | None = None) -> dict[str, Any]:
    """No-fall rate with its interval, and the tracking measures of a group of episodes."""
    n = len(episodes)
    falls = sum(bool(e["fell"]) for e in episodes)
    survivors = [e for e in episodes if not e["fell"]]
    out: dict[str, Any] = {
        "episodes": n,
        "falls": falls,
        "survivors": n - falls,
        "no_fall_rate": (n - falls) / n if n else None,
        "no_fall_ci95": wilson95(n - falls, n),
        "settle_s": settle_s,
    }
    out |= {k: _mean([e.get(k) for e in survivors]) for k in TRACKING_KEYS}
    out |= {k: _mean([e.get(k) for e in episodes]) for k in LEGACY_KEYS}
    return out
