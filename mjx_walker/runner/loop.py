"""The control loop: read, observe, infer, filter, command — on a drift-free schedule.

Each tick: read the backend, run the safety checks, build the actor observation with the
environment's own :func:`mjx_walker.observation.build_actor_obs` (NumPy), run the policy, turn
the action into PD targets ``default + action_scale * action``, pass them through the safety
layer and send them. Deadlines advance by exactly one period (``next += period``), so the
schedule never drifts; a tick that ends after its deadline counts as a miss.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mjx_walker.observation import build_actor_obs
from mjx_walker.onnx_meta import PolicyMeta
from mjx_walker.runner.backend import RobotBackend, RobotState
from mjx_walker.runner.safety import Mode, SafetyConfig, SafetyLayer
from mjx_walker.state import Measurement


@dataclass(frozen=True)
class Tick:
    """What happened in one control tick (handed to the observer)."""

    index: int
    time: float  # s since the loop started, on the backend's clock
    mode: Mode
    state: RobotState
    action: np.ndarray | None  # (nu,) policy action, None when the policy did not run
    target: np.ndarray | None  # (nu,) rad sent, None in damping


@dataclass
class RunStats:
    """Timing and outcome of a run."""

    ticks: int = 0
    policy_ticks: int = 0
    deadline_misses: int = 0
    final_mode: str = ""
    trip_reason: str = ""
    provider: str = ""
    inference_s: list[float] = field(default_factory=list)  # per policy call, wall seconds
    lateness_s: list[float] = field(default_factory=list)  # tick start - scheduled start, clock s

    def summary(self) -> dict[str, float | int | str]:
        """JSON-ready stats: latency and jitter p50/p99 in ms, counts, outcome."""

        def pct(values: list[float], q: float) -> float:
            """Percentile q of ``values`` in ms (nan when empty)."""
            return float(np.percentile(values, q) * 1e3) if values else float("nan")

        jitter = [abs(v) for v in self.lateness_s]
        return {
            "ticks": self.ticks,
            "policy_ticks": self.policy_ticks,
            "deadline_misses": self.deadline_misses,
            "final_mode": self.final_mode,
            "trip_reason": self.trip_reason,
            "provider": self.provider,
            "inference_ms_p50": pct(self.inference_s, 50),
            "inference_ms_p99": pct(self.inference_s, 99),
            "jitter_ms_p50": pct(jitter, 50),
            "jitter_ms_p99": pct(jitter, 99),
        }


def run_loop(
    backend: RobotBackend,
    policy: Callable[[np.ndarray], np.ndarray],
    meta: PolicyMeta,
    command: np.ndarray,
    duration: float,
    safety_cfg: SafetyConfig | None = None,
    observer: Callable[[Tick], bool | None] | None = None,
    provider: str = "",
) -> RunStats:
    """Run the policy on ``backend`` for ``duration`` s of its clock (ramp included).

    ``command`` (3,) is [vx m/s, vy m/s, yaw rate rad/s]. ``observer(tick)`` is called after every
    tick; returning True ends the run. Returns timing stats and the outcome.
    """
    clock, period = backend.clock, meta.ctrl_dt
    default = meta.array("default_joint_pos")
    kp, kd = meta.array("kp"), meta.array("kd")
    safety_cfg = safety_cfg or SafetyConfig()
    damp_kd = np.maximum(kd, safety_cfg.damping_kd)
    safety = SafetyLayer(safety_cfg, meta.array("joint_lower"), meta.array("joint_upper"), default, period)
    command = np.asarray(command, np.float32)
    phase = np.asarray(meta.initial_gait_phase, np.float32)
    dphase = np.float32(2.0 * np.pi * meta.gait_frequency_hz * period)
    last_action = np.zeros(meta.nu, np.float32)
    stats = RunStats(provider=provider)

    t_start = clock.now()
    first = backend.read_state()
    if safety.check_state(first, clock.now()):
        safety.start(first.joint_pos, clock.now())
    next_deadline = t_start
    while clock.now() - t_start < duration - 1e-9 and safety.mode != Mode.STOPPED:
        stats.lateness_s.append(clock.now() - next_deadline)
        state = backend.read_state()
        now = clock.now()
        action = target = None
        if safety.check_state(state, now):
            if safety.mode == Mode.RAMP:
                target = safety.ramp_target(now)
            else:
                meas = Measurement(
                    gyro=np.asarray(state.gyro, np.float32),
                    gravity=np.asarray(state.gravity, np.float32),
                    joint_pos=np.asarray(state.joint_pos, np.float32),
                    joint_vel=np.asarray(state.joint_vel, np.float32),
                )
                obs = build_actor_obs(meas, last_action, command, phase, default.astype(np.float32))
                if safety.check_finite("observation", obs):
                    t0 = time.perf_counter()
                    raw = np.asarray(policy(obs), np.float32)
                    stats.inference_s.append(time.perf_counter() - t0)
                    if safety.check_finite("action", raw):
                        action = np.clip(raw, -1.0, 1.0)
                        target = default + meta.action_scale * action
                        last_action = action
                        phase = (np.mod(phase + dphase + np.pi, 2 * np.pi) - np.pi).astype(np.float32)
                        stats.policy_ticks += 1
        if target is not None and safety.engaged:
            target = safety.limit(target)
            backend.write_targets(target, kp, kd)
        else:
            target = None
            backend.damp(damp_kd)
        stats.ticks += 1
        done = observer(Tick(stats.ticks - 1, now - t_start, safety.mode, state, action, target)) if observer else None
        next_deadline += period
        if clock.now() > next_deadline:
            stats.deadline_misses += 1
            while next_deadline + period < clock.now():  # far behind: skip ticks, keep the grid
                next_deadline += period
        if done:
            break
        clock.sleep_until(next_deadline)
    if not safety.engaged:
        backend.damp(damp_kd)
    stats.final_mode = safety.mode.value
    stats.trip_reason = safety.reason
    return stats
