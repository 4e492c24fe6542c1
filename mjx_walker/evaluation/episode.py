"""One evaluation episode: the deployment loop on a MuJoCo C backend, with its outcome and measures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mjx_walker.evaluation.draws import start_state
from mjx_walker.evaluation.metrics import DEFAULT_SETTLE_S, TRACKING_KEYS, legacy_errors, tracking_errors
from mjx_walker.model import RobotModel, build_robot_model
from mjx_walker.runner.inference import OnnxPolicy
from mjx_walker.runner.loop import Tick, run_loop
from mjx_walker.runner.mujoco_backend import MuJoCoBackend, SimShift
from mjx_walker.runner.safety import Mode, SafetyConfig
from mjx_walker.runner.session import sim_config


@dataclass(frozen=True)
class Push:
    """A one-off horizontal velocity kick to the base."""

    time_s: float  # when, s after the episode start
    velocity: tuple[float, float]  # m/s, world frame


def mujoco_backend(
    robot: RobotModel, shift: SimShift, perturbation: tuple[np.ndarray, np.ndarray] | None
) -> MuJoCoBackend:
    """The MuJoCo C backend with ``shift``, started at the (perturbed) standing pose."""
    qpos, qvel = start_state(robot, *(perturbation or (None, None)))
    return MuJoCoBackend(robot, shift=shift, qpos=qpos, qvel=qvel)


def run_episode(
    policy: OnnxPolicy,
    shift: SimShift,
    command: list[float],
    duration: float,
    record_qpos: bool = False,
    *,
    perturbation: tuple[np.ndarray, np.ndarray] | None = None,
    push: Push | None = None,
    settle_s: float = DEFAULT_SETTLE_S,
    robot: RobotModel | None = None,
    make_backend: Callable[[SimShift, tuple[np.ndarray, np.ndarray] | None], Any] | None = None,
) -> dict[str, Any]:
    """One episode on a shifted MuJoCo backend; returns its outcome, measures and latencies.

    ``record_qpos``: also return ``qpos`` (nq,) and ``qvel`` (nv,) after every control tick (a video's
    frames); otherwise both lists are empty.
    ``perturbation`` is (joint offsets (nu,) rad, base qvel (6,)) at the start (None: standing
    still). ``make_backend(shift, perturbation)`` replaces the MuJoCo backend (tests script one);
    it must offer the MuJoCoBackend's ground-truth methods (``fallen``, ``base_linvel``, ...).
    """
    meta = policy.meta
    if make_backend is None:
        backend = mujoco_backend(robot or build_robot_model(meta.robot, sim_config(meta)), shift, perturbation)
    else:
        backend = make_backend(shift, perturbation)
    times: list[float] = []
    lin_vel: list[np.ndarray] = []
    yaw_rate: list[float] = []
    qpos: list[np.ndarray] = []
    qvel: list[np.ndarray] = []
    fell_at: list[float] = []
    pushed_at: list[float] = []

    def observe(tick: Tick) -> bool:
        """Apply the push when due, record base velocities; end the episode on a fall."""
        if record_qpos:
            qpos.append(backend.data.qpos.copy())
            qvel.append(backend.data.qvel.copy())
        if push is not None and not pushed_at and tick.time >= push.time_s - 1e-9:
            backend.kick(np.asarray(push.velocity))
            pushed_at.append(tick.time)
        if backend.fallen(meta.min_height_fraction, meta.max_tilt_rad):
            fell_at.append(tick.time)
            return True
        if tick.mode == Mode.POLICY and tick.action is not None:
            times.append(tick.time)
            lin_vel.append(np.asarray(backend.base_linvel())[:2])
            yaw_rate.append(float(backend.base_yaw_rate()))
        return False

    safety = SafetyConfig(max_tilt_rad=meta.max_tilt_rad, ramp_duration_s=0.0)
    stats = run_loop(backend, policy, meta, np.asarray(command), duration, safety, observe, policy.provider)
    tripped = stats.final_mode in (Mode.DAMPING.value, Mode.STOPPED.value)
    fell = bool(fell_at) or tripped
    steady = tracking_errors(times, lin_vel, yaw_rate, command, settle_s)
    if fell:  # survivors only: a fallen episode has no steady part
        steady |= dict.fromkeys(TRACKING_KEYS)
    return {
        "command": [float(c) for c in command],
        "fell": fell,
        "fall_time_s": (fell_at[0] if fell_at else stats.ticks * meta.ctrl_dt) if fell else None,
        "ticks": stats.ticks,
        "policy_ticks": stats.policy_ticks,
        **steady,
        **legacy_errors(lin_vel, yaw_rate, command),
        "push_at_s": pushed_at[0] if pushed_at else None,
        "push_velocity": list(push.velocity) if pushed_at and push is not None else None,
        "trip_reason": stats.trip_reason,
        "inference_s": stats.inference_s,
        "qpos": qpos,
        "qvel": qvel,
    }
