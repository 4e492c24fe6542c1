"""Figures of evaluation reports: no-fall rate (95 % interval) and tracking errors per condition.

The x axis is the swept quantity (or the actuation lag when nothing is swept); one line per
report, so several policies compare on one figure. Matplotlib's ``Figure`` without pyplot: the
caller's backend (e.g. a notebook's) is left alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mjx_walker.evaluation.conditions import condition_value

AXIS_LABELS = {
    "lag_ms": "actuation lag (ms)",
    "friction": "foot-floor friction (pinned)",
    "mass_scale": "link mass scale (pinned)",
    "payload_kg": "torso payload kg (pinned)",
    "kp_scale": "kp scale (pinned)",
    "kd_scale": "kd scale (pinned)",
    "push_mps": "push (m/s)",
    "backlash_deg": "joint backlash (deg)",
}


def axis_name(report: dict[str, Any]) -> str:
    """The quantity the report's conditions vary: the swept name, else lag_ms."""
    return report["sweep"]["name"] if report.get("sweep") else "lag_ms"


def _values(conditions: list[dict[str, Any]], key: str) -> np.ndarray:
    """A measure per condition, NaN where it is None."""
    return np.array([np.nan if c.get(key) is None else c[key] for c in conditions], float)


def plot_curves(axes: Any, report: dict[str, Any], label: str | None = None) -> None:
    """Draw one report on three axes: no-fall rate with its interval, speed errors, yaw-rate errors."""
    conds = report["conditions"]
    name = axis_name(report)
    x = np.array([condition_value(c, name) for c in conds])
    rate = _values(conds, "no_fall_rate")
    ci = np.array([c["no_fall_ci95"] or [np.nan, np.nan] for c in conds], float).reshape(-1, 2)
    prefix = f"{label}: " if label else ""
    line = axes[0].errorbar(x, rate, yerr=[rate - ci[:, 0], ci[:, 1] - rate], fmt="o-", capsize=3, label=label)
    color = line[0].get_color()
    axes[1].plot(x, _values(conds, "lin_speed_error_mean"), "o-", color=color, label=f"{prefix}mean-speed error")
    axes[1].plot(x, _values(conds, "lin_vel_rms"), "s--", color=color, label=f"{prefix}per-tick RMS")
    axes[2].plot(x, _values(conds, "yaw_rate_error_mean"), "o-", color=color, label=f"{prefix}mean-rate error")
    axes[2].plot(x, _values(conds, "yaw_rate_rms"), "s--", color=color, label=f"{prefix}per-tick RMS")
    xlabel = AXIS_LABELS.get(name, name)
    if name == "push_mps":
        xlabel += f" at {report['push']['time_s']:g} s"
    settle = report.get("settle_s")
    axes[0].set(ylim=(-0.02, 1.05), title="no-fall rate (95 % Wilson interval)", xlabel=xlabel)
    axes[1].set(title=f"speed error m/s (survivors, after {settle:g} s)", xlabel=xlabel)
    axes[2].set(title=f"yaw-rate error rad/s (survivors, after {settle:g} s)", xlabel=xlabel)
    for ax in axes[1:]:
        top = ax.dataLim.ymax if np.isfinite(ax.dataLim.ymax) else 0.0
        ax.set_ylim(0, max(top * 1.2, 0.05))
        ax.legend(fontsize=7)


def describe(report: dict[str, Any]) -> str:
    """One line: robot, envelope shift and centre, pins, noise level."""
    pinned = ", ".join(f"{k}={v:g}" for k, v in report["pinned"].items()) or "none"
    return (
        f"{report['robot']}  shift x{report['shift']:g} about the {report['centre']} centre  pinned: {pinned}  "
        f"noise level {report['noise']['level']:g}  {report['episodes_per_condition']} episodes/condition"
    )


def plot_report(report: dict[str, Any], path: Path, latencies: list[float]) -> None:
    """PNG of one policy's report: the three curves and the inference latency histogram."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(17, 3.9))
    axes = fig.subplots(1, 4)
    axes[1].sharex(axes[0])
    axes[2].sharex(axes[0])
    plot_curves(axes[:3], report)
    axes[3].hist(np.asarray(latencies) * 1e3, bins=40, color="tab:gray")
    lat = report["latency"]
    provider = report["provider"].removesuffix("ExecutionProvider")
    axes[3].set(title=f"inference p50 {lat['inference_ms_p50'] or 0:.3f} ms ({provider})", xlabel="ms")
    overall = report["overall"]
    fig.suptitle(f"{describe(report)}  overall no-fall {overall['no_fall_rate']:.2f}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_comparison(reports: dict[str, dict[str, Any]], path: Path) -> None:
    """PNG comparing policies: one line per report (label -> report) on the three curves."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(14, 4.2))
    axes = fig.subplots(1, 3, sharex=True)
    for label, report in reports.items():
        plot_curves(axes, report, label)
    axes[0].legend(fontsize=7)
    first = next(iter(reports.values()))
    fig.suptitle(f"{len(reports)} policies on {describe(first)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
