"""The control loop: read, observe, infer, filter, command — on a drift-free schedule.

Each tick: read the backend, run the safety checks, build the policy's observation (its layout
of named terms) with the environment's own builder :func:`mjx_walker.obs_terms.build_obs`
(NumPy), run the policy, turn
the action into PD targets ``default + action_scale * action``, pass them through the safety
layer and send them. Deadlines advance by exactly one period (``next += period``), so the
schedule never drifts; a tick that ends after its deadline counts as a miss.

However the loop ends (its duration, the observer, a safety stop, an exception or Ctrl-C) its
last command to the backend is ``damp``: motors never keep holding the policy's last targets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mjx_walker import gait
from mjx_walker.obs_terms import build_obs, sim_only_terms
from mjx_walker.onnx_meta import PolicyMeta
from mjx_walker.runner.backend import Clock, RobotBackend, RobotState
from mjx_walker.runner.safety import (
    Mode,
    SafetyConfig,
    SafetyLayer,
    check_command,
    check_duration,
    check_policy_meta,
)


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


class BackendMismatchError(ValueError):
    """The policy observes something this backend cannot provide (ground truth on hardware)."""


def check_backend(meta: PolicyMeta, backend: RobotBackend) -> None:
    """Refuse a policy whose observation needs readings (base_linvel) the backend does not provide."""
    missing = [t for t in sim_only_terms(meta.obs_layout) if t not in backend.ground_truth]
    if missing:
        raise BackendMismatchError(
            f"the policy observes {missing}, ground truth a real robot cannot measure; only simulation "
            f"backends provide it ({type(backend).__name__} does not)"
        )


def readings(
    state: RobotState, default: np.ndarray, last_action: np.ndarray, command: np.ndarray, phase: np.ndarray
) -> dict[str, np.ndarray]:
    """Everything an observation term reads (see :func:`mjx_walker.obs_terms.build_obs`), float32."""
    out = {name: np.asarray(value, np.float32) for name, value in state.measurement._asdict().items()}
    out |= {
        "default_joint_pos": default,
        "last_action": last_action,
        "command": command,
        "gait_phase": phase,
    }
    if state.base_linvel is not None:
        out["base_linvel"] = np.asarray(state.base_linvel, np.float32)
    return out


@dataclass
class _Memory:
    """What the policy carries from one tick to the next."""

    last_action: np.ndarray  # (nu,) float32, the previous action in [-1, 1]
    phase: np.ndarray  # (2,) float32 rad, gait phase of the left and right leg


def _policy_target(
    policy: Callable[[np.ndarray], np.ndarray],
    obs: np.ndarray,
    meta: PolicyMeta,
    safety: SafetyLayer,
    memory: _Memory,
    clock: Clock,
    stats: RunStats,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The policy's action (nu,) on ``obs`` (obs_dim,) and its PD target (nu,) rad; Nones if a check trips.

    The call's duration is checked on the backend's clock (a stalled call's action is stale), the
    action's shape and values before anything derives from it.
    """
    t0, clock_t0 = time.perf_counter(), clock.now()
    raw = np.asarray(policy(obs), np.float32)
    stats.inference_s.append(time.perf_counter() - t0)
    if not (safety.check_latency(clock.now() - clock_t0) and safety.check_action(raw, meta.nu)):
        return None, None
    action = np.clip(raw, -1.0, 1.0)
    memory.last_action = action
    memory.phase = gait.advance(memory.phase, meta.gait_frequency_hz, meta.ctrl_dt).astype(np.float32)
    stats.policy_ticks += 1
    return action, meta.array("default_joint_pos") + meta.action_scale * action


def _damp_on_exit(backend: RobotBackend, kd: np.ndarray, error: BaseException | None) -> None:
    """Damp (kd (nu,) N·m·s/rad) as the loop ends; if that fails too, note it on ``error`` (kept) or raise."""
    try:
        backend.damp(kd)
    except Exception as damp_error:
        if error is None:
            raise
        error.add_note(f"and damping the motors afterwards failed: {type(damp_error).__name__}: {damp_error}")


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
    """Run the policy on ``backend`` for ``duration`` s of its clock (ramp included; inf: until stopped).

    ``command`` (3,) is [vx m/s, vy m/s, yaw rate rad/s], within the policy's trained ranges.
    ``observer(tick)`` is called after every tick; returning True ends the run. Returns timing
    stats and the outcome. Bad metadata, command or duration raise SafetyError before anything is
    commanded. However the loop ends (duration reached, the observer, a trip, an exception from
    the backend, the policy or the observer, KeyboardInterrupt) it ends by damping the motors;
    exceptions are re-raised after that.
    """
    check_backend(meta, backend)
    check_policy_meta(meta)
    command = check_command(command, meta.command_ranges).astype(np.float32)
    duration = check_duration(duration)
    clock, period = backend.clock, meta.ctrl_dt
    default = meta.array("default_joint_pos")
    kp, kd = meta.array("kp"), meta.array("kd")
    safety_cfg = safety_cfg or SafetyConfig()
    damp_kd = np.maximum(kd, safety_cfg.damping_kd)
    safety = SafetyLayer(safety_cfg, meta.array("joint_lower"), meta.array("joint_upper"), default, period)
    default32 = default.astype(np.float32)
    memory = _Memory(np.zeros(meta.nu, np.float32), np.asarray(meta.initial_gait_phase, np.float32))
    stats = RunStats(provider=provider)

    error: BaseException | None = None
    try:
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
                    obs = build_obs(
                        meta.obs_layout, readings(state, default32, memory.last_action, command, memory.phase)
                    )
                    if safety.check_finite("observation", obs):
                        action, target = _policy_target(policy, obs, meta, safety, memory, clock, stats)
            if target is not None and safety.engaged:
                target = safety.limit(target)
                safety.check_finite("target", target)
            if target is not None and safety.engaged:
                backend.write_targets(target, kp, kd)
            else:
                target = None
                backend.damp(damp_kd)
            stats.ticks += 1
            tick = Tick(stats.ticks - 1, now - t_start, safety.mode, state, action, target)
            done = observer(tick) if observer else None
            next_deadline += period
            missed = clock.now() > next_deadline
            if missed:
                stats.deadline_misses += 1
                while next_deadline + period < clock.now():  # far behind: skip ticks, keep the grid
                    next_deadline += period
            safety.note_deadline(missed)
            if done:
                break
            clock.sleep_until(next_deadline)
    except BaseException as err:  # KeyboardInterrupt included: damp (below), then re-raise
        error = err
        safety.trip(f"{type(err).__name__} in the control loop" + (f": {err}" if str(err) else ""), stop=True)
        raise
    finally:
        _damp_on_exit(backend, damp_kd, error)
        stats.final_mode = safety.mode.value
        stats.trip_reason = safety.reason
    return stats
