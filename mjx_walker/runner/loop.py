"""The control loop: read, observe, infer, filter, command — on a drift-free schedule.

Each tick: read the backend, run the safety checks, build the policy's observation (its layout
of named terms) with the environment's own builder :func:`mjx_walker.obs_terms.build_obs`
(NumPy), run the policy, turn
the action into PD targets ``default + action_scale * action``, pass them through the safety
layer and send them. Deadlines advance by exactly one period (``next += period``), so the
schedule never drifts; a tick that ends after its deadline counts as a miss.

However the loop ends (its duration, the observer, a safety stop, an exception, Ctrl-C, SIGTERM
or SIGHUP) its last command to the backend is ``damp``: motors never keep holding the policy's last
targets. Each tick also calls the backend's ``heartbeat`` and checks its ``estop`` input and, where it
measures it, the base height; on a real-time clock a watchdog thread damps the motors when no
command has been sent for ``SafetyConfig.watchdog_timeout_s``, even while the loop is blocked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mjx_walker import gait
from mjx_walker.obs_terms import build_obs, sim_only_terms
from mjx_walker.onnx_meta import PolicyMeta
from mjx_walker.runner.backend import Clock, RobotBackend, RobotState, check_flag, check_fraction, check_reading
from mjx_walker.runner.meta_check import check_policy_meta
from mjx_walker.runner.safety import ACTION_CLIP, Mode, SafetyConfig, SafetyLayer, check_command, check_duration
from mjx_walker.runner.signals import stop_signals_interrupt
from mjx_walker.runner.watchdog import Watchdog


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
    action = np.clip(raw, -ACTION_CLIP, ACTION_CLIP)
    memory.last_action = action
    memory.phase = gait.advance(memory.phase, meta.gait_frequency_hz, meta.ctrl_dt).astype(np.float32)
    stats.policy_ticks += 1
    return action, meta.array("default_joint_pos") + meta.action_scale * action


@dataclass
class _Run:
    """One run of the loop: the backend, the policy, the safety layer and what a tick needs."""

    backend: RobotBackend
    policy: Callable[[np.ndarray], np.ndarray]
    meta: PolicyMeta
    command: np.ndarray  # (3,) float32 [vx m/s, vy m/s, yaw rad/s]
    safety: SafetyLayer
    stats: RunStats
    damp_kd: np.ndarray  # (nu,) N·m·s/rad, damping gains of the safe stop
    watchdog: Watchdog | None = None
    memory: _Memory = field(init=False)

    def __post_init__(self) -> None:
        """Gains, limits and the policy's memory from the metadata."""
        meta = self.meta
        self.kp, self.kd = meta.array("kp"), meta.array("kd")  # (nu,) N·m/rad, N·m·s/rad
        self.torque_limit = meta.array("torque_limit")  # (nu,) N·m
        self.default32 = meta.array("default_joint_pos").astype(np.float32)  # (nu,) rad
        self.memory = _Memory(np.zeros(meta.nu, np.float32), np.asarray(meta.initial_gait_phase, np.float32))

    def read(self) -> RobotState:
        """The backend's reading, its type checked; the e-stop and base-height hooks checked too."""
        state = check_reading(self.backend.read_state())
        if check_flag(self.backend.estop(), "estop()"):
            self.safety.trip("emergency stop: the backend's e-stop input is pressed", stop=True)
        self.safety.check_height(check_fraction(self.backend.base_height_fraction(), "base_height_fraction()"))
        return state

    def target(self, state: RobotState, now: float) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The policy's action (nu,) and PD target (nu,) rad (ramp: no action) for ``state``; Nones if tripped."""
        safety = self.safety
        if not safety.check_state(state, now):  # also in damping mode: a tilt there still stops the run
            return None, None
        if safety.mode == Mode.RAMP:
            return None, safety.ramp_target(now)
        obs = build_obs(
            self.meta.obs_layout,
            readings(state, self.default32, self.memory.last_action, self.command, self.memory.phase),
        )
        if not safety.check_finite("observation", obs):
            return None, None
        return _policy_target(self.policy, obs, self.meta, safety, self.memory, self.backend.clock, self.stats)

    def watchdog_fired(self) -> bool:
        """Whether the watchdog damped the motors; latches damping mode with its reason."""
        if self.watchdog is None or not self.watchdog.fired:
            return False
        if self.safety.engaged:
            self.safety.trip(self.watchdog.reason)
        return True

    def send(self, state: RobotState, target: np.ndarray | None) -> np.ndarray | None:
        """Filter ``target`` (nu,) rad and send it, or damp; returns what was sent (None: damping)."""
        safety, backend = self.safety, self.backend
        if target is not None and safety.engaged:
            target = safety.limit(target)
            if safety.check_finite("target", target):
                safety.check_torque(state, target, self.kp, self.kd, self.torque_limit)
        self.watchdog_fired()
        if target is not None and safety.engaged:
            backend.write_targets(target, self.kp, self.kd)
            if self.watchdog_fired():  # the write outlasted the watchdog: its target is stale by now
                target = None
                backend.damp(self.damp_kd)
        else:
            target = None
            backend.damp(self.damp_kd)
        if self.watchdog is not None:
            self.watchdog.fed()
        backend.heartbeat()
        return target


def _damp_on_exit(backend: RobotBackend, kd: np.ndarray, error: BaseException | None) -> None:
    """Damp (kd (nu,) N·m·s/rad) as the loop ends; if that fails too, note it on ``error`` (kept) or raise."""
    try:
        backend.damp(kd)
    except Exception as damp_error:
        if error is None:
            raise
        error.add_note(f"and damping the motors afterwards failed: {type(damp_error).__name__}: {damp_error}")


def _schedule(run: _Run, t_start: float, duration: float, observer: Callable[[Tick], bool | None] | None) -> None:
    """The ticks, on a drift-free schedule, until the duration, a stop, or the observer says so."""
    clock, period, safety, stats = run.backend.clock, run.meta.ctrl_dt, run.safety, run.stats
    next_deadline = t_start
    while clock.now() - t_start < duration - 1e-9 and safety.mode != Mode.STOPPED:
        stats.lateness_s.append(clock.now() - next_deadline)
        state = run.read()
        now = clock.now()
        action, target = run.target(state, now)
        target = run.send(state, target)
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
    stats and the outcome. Bad metadata, command, duration or safety settings raise SafetyError
    before anything is commanded. However the loop ends (duration reached, the observer, a trip,
    an exception from the backend, the policy or the observer, KeyboardInterrupt, SIGTERM or
    SIGHUP as :class:`~mjx_walker.runner.signals.Terminated`) it ends by damping the motors;
    exceptions are re-raised after that, a malformed backend return as
    :class:`~mjx_walker.runner.backend.BackendError`. On a real-time clock a watchdog thread
    damps the motors whenever the loop sends no command for ``watchdog_timeout_s``.
    """
    check_backend(meta, backend)
    check_policy_meta(meta)
    command = check_command(command, meta.command_ranges).astype(np.float32)
    duration = check_duration(duration)
    clock, safety_cfg = backend.clock, safety_cfg or SafetyConfig()
    default = meta.array("default_joint_pos")
    damp_kd = np.maximum(meta.array("kd"), safety_cfg.damping_kd)
    safety = SafetyLayer(safety_cfg, meta.array("joint_lower"), meta.array("joint_upper"), default, meta.ctrl_dt)
    watchdog = Watchdog(lambda: backend.damp(damp_kd), safety_cfg.watchdog_timeout_s) if clock.realtime else None
    run = _Run(backend, policy, meta, command, safety, RunStats(provider=provider), damp_kd, watchdog)

    error: BaseException | None = None
    with stop_signals_interrupt() as signals:
        try:
            if watchdog is not None:
                watchdog.start()
            t_start = clock.now()
            first = check_reading(backend.read_state())
            if safety.check_state(first, clock.now()):
                safety.start(first.joint_pos, clock.now())
            _schedule(run, t_start, duration, observer)
        except BaseException as err:  # KeyboardInterrupt included: damp (below), then re-raise
            error = err
            safety.trip(f"{type(err).__name__} in the control loop" + (f": {err}" if str(err) else ""), stop=True)
            raise
        finally:
            signals.defer()  # a stop signal now waits until the motors are damped
            if watchdog is not None:
                watchdog.stop()
            _damp_on_exit(backend, damp_kd, error)
            run.stats.final_mode = safety.mode.value
            run.stats.trip_reason = safety.reason
        signals.raise_pending()
    return run.stats
