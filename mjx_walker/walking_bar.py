"""The walking bar: when a policy is said to walk, judged in MuJoCo C as a user would.

A policy walks when, over ``episodes`` episodes of 10 s per condition at lags 0 and 16 ms, in its
own training envelope (:func:`mjx_walker.evaluate.evaluate_policy`):

- no episode falls;
- a forward 0.5 m/s command is tracked to 0.15 m/s (error of the mean velocity after the settle time);
- random commands drawn from its training box are tracked to 0.2 m/s and 0.3 rad/s.

Thirty episodes per condition: a policy that falls in 1 episode of 10 passes with probability
0.9**30 = 4 %. Ten proved too few (a checkpoint kept all 10 episodes of one seed up and fell in 7
of 30 of another). The trainer's checkpoint selection (:mod:`mjx_walker.selection`) and the
experiments' judges share these figures.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

LAGS_MS = (0.0, 16.0)
EPISODES = 30
DURATION_S = 10.0
FORWARD = (0.5, 0.0, 0.0)  # vx m/s, vy m/s, yaw rate rad/s
MAX_FORWARD_ERROR = 0.15  # m/s
MAX_LIN_ERROR = 0.2  # m/s
MAX_YAW_ERROR = 0.3  # rad/s


def _condition_value(cond: dict[str, Any], *names: str) -> float | None:
    """The first of ``names`` present in an evaluate condition (newer reports name measures explicitly)."""
    for name in names:
        if cond.get(name) is not None:
            return float(cond[name])
    return None


def judge_policy(
    onnx_path: str | os.PathLike, out: str | os.PathLike, seed: int, episodes: int = EPISODES
) -> dict[str, Any]:
    """Evaluate one ONNX policy against the bar; ``{"conditions": [row, ...], "walks": bool}``.

    Each row: ``commands`` ("forward" or "random"), ``lag_ms``, ``no_fall_rate``, ``lin_error``
    (m/s) and ``yaw_error`` (rad/s). Reports are written under ``out/forward`` and ``out/random``;
    ``seed`` picks the episodes' draws.
    """
    from mjx_walker.evaluate import evaluate_policy

    out = Path(out)
    common = dict(episodes=episodes, lag_ms=list(LAGS_MS), duration=DURATION_S, seed=seed, verbose=False)
    forward = evaluate_policy(onnx_path, out / "forward", command=list(FORWARD), **common)
    random_cmd = evaluate_policy(onnx_path, out / "random", **common)
    rows = []
    for kind, report in (("forward", forward), ("random", random_cmd)):
        for cond in report["conditions"]:
            rows.append(
                {
                    "commands": kind,
                    "lag_ms": cond["lag_ms"],
                    "no_fall_rate": cond["no_fall_rate"],
                    "lin_error": _condition_value(cond, "lin_speed_error_mean", "lin_vel_error"),
                    "yaw_error": _condition_value(cond, "yaw_rate_error_mean", "yaw_rate_error"),
                }
            )
    return {"conditions": rows, "walks": walks(rows)}


def walks(rows: list[dict[str, Any]]) -> bool:
    """Whether judged conditions pass the bar: no falls, forward and random-command tracking."""
    if {r["commands"] for r in rows} != {"forward", "random"}:
        return False
    for r in rows:
        lin_max = MAX_FORWARD_ERROR if r["commands"] == "forward" else MAX_LIN_ERROR
        if r["no_fall_rate"] != 1.0 or r["lin_error"] is None or r["lin_error"] > lin_max:
            return False
        if r["commands"] == "random" and (r["yaw_error"] is None or r["yaw_error"] > MAX_YAW_ERROR):
            return False
    return True


def score(rows: list[dict[str, Any]]) -> tuple[float, float]:
    """A ranking key, smaller is better: (fall rate summed over conditions, worst linear error / its limit)."""
    falls = sum(1.0 - r["no_fall_rate"] for r in rows)
    worst = max(
        (r["lin_error"] if r["lin_error"] is not None else 9.0)
        / (MAX_FORWARD_ERROR if r["commands"] == "forward" else MAX_LIN_ERROR)
        for r in rows
    )
    return falls, worst
