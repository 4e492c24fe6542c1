"""The deploy sequence on a hardware backend: wait for state, zero torque, ramp, wait for start, policy, damping.

Vendor deploy code does the same steps (Unitree's ``deploy_real``): the robot hangs from its
gantry while the controller comes up, the operator presses start once it stands in the default
pose, and any fault ends in damping. Every transition is logged with its time. After the ramp
the control loop (:func:`mjx_walker.runner.loop.run_loop`) takes over with every safety check it
has; before it, stale state and the stop button damp too. The remote's sticks steer the policy
within its trained command box (:mod:`mjx_walker.runner.teleop`); its stop button ends the run.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mjx_walker.onnx_meta import PolicyMeta
from mjx_walker.runner.backend import BackendError
from mjx_walker.runner.loop import RunStats, Tick, run_loop
from mjx_walker.runner.safety import SafetyConfig, SafetyError
from mjx_walker.runner.teleop import CommandBox, LiveCommandPolicy, stick_to_command


class Phase(str, enum.Enum):  # noqa: UP042 (StrEnum would change str(phase))
    """Where the deploy sequence is."""

    WAIT_STATE = "wait_state"
    ZERO_TORQUE = "zero_torque"
    RAMP = "ramp"
    WAIT_START = "wait_start"
    POLICY = "policy"
    DAMPING = "damping"


@dataclass(frozen=True)
class DeployConfig:
    """Timings and buttons of the sequence."""

    state_timeout_s: float = 5.0  # no state within this: give up (damping)
    zero_torque_s: float = 1.0  # motors on with kp = kd = 0 (the robot hangs limp)
    ramp_s: float = 2.0  # from the measured pose to the default pose
    start_timeout_s: float = math.inf  # waiting for the start button
    start_button: str = "start"
    stop_button: str = "select"

    def __post_init__(self) -> None:
        """SafetyError naming a bad timing."""
        for name in ("state_timeout_s", "zero_torque_s", "ramp_s", "start_timeout_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value >= 0 and not math.isnan(value)):
                raise SafetyError(f"{name} = {value!r} is invalid: expected seconds >= 0")


@dataclass
class DeployResult:
    """The transitions (clock s, phase, why) and the control loop's stats (None if it never ran)."""

    transitions: list[tuple[float, Phase, str]] = field(default_factory=list)
    stats: RunStats | None = None


class _Sequence:
    """One run of the sequence on a backend (holds the log and the timing)."""

    def __init__(self, backend: Any, meta: PolicyMeta, cfg: DeployConfig, log: Callable[[str], None]) -> None:  # noqa: ANN401
        """Remember the backend, the policy's metadata and the timings."""
        self.backend, self.meta, self.cfg, self.log = backend, meta, cfg, log
        self.clock = backend.clock
        self.result = DeployResult()
        self.kp, self.kd = meta.array("kp"), meta.array("kd")
        self.default = meta.array("default_joint_pos")

    def enter(self, phase: Phase, why: str = "") -> None:
        """Record and log a transition."""
        now = self.clock.now()
        self.result.transitions.append((now, phase, why))
        self.log(f"[deploy {now:10.3f}] {phase.value}" + (f": {why}" if why else ""))

    def pressed(self, button: str) -> bool:
        """Whether the remote holds ``button`` (False for a backend without a remote)."""
        remote = self.backend.remote() if hasattr(self.backend, "remote") else None
        return remote is not None and button in remote.pressed

    def fresh_joints(self, stale_s: float) -> np.ndarray:
        """The measured joints (nu,) rad; BackendError if the reading is older than ``stale_s``."""
        state = self.backend.read_state()
        age = self.clock.now() - state.timestamp
        if age > stale_s:
            raise BackendError(f"stale state: the newest reading is {age * 1e3:.0f} ms old")
        return np.asarray(state.joint_pos, float)

    def hold(
        self,
        seconds: float,
        target: Callable[[float, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]],
        until: Callable[[], bool] | None = None,
        stale_s: float = 0.1,
    ) -> bool:  # noqa: E501
        """Send ``target(t, q)`` -> (q, kp, kd) every control period for ``seconds``; True if ``until()`` came first."""
        start = self.clock.now()
        tick = start
        while self.clock.now() - start < seconds:
            q = self.fresh_joints(stale_s)
            if self.pressed(self.cfg.stop_button):
                raise KeyboardInterrupt(f"the remote's {self.cfg.stop_button} button")
            if until is not None and until():
                return True
            self.backend.write_targets(*target(self.clock.now() - start, q))
            tick += self.meta.ctrl_dt
            self.clock.sleep_until(tick)
        return False


def deploy(
    backend: Any,  # noqa: ANN401 - a RobotBackend with wait_for_state (and optionally remote)
    policy: Callable[[np.ndarray], np.ndarray],
    meta: PolicyMeta,
    command: np.ndarray,
    duration: float,
    cfg: DeployConfig | None = None,
    start_now: bool = False,
    safety: SafetyConfig | None = None,
    log: Callable[[str], None] = print,
) -> DeployResult:
    """Run the sequence; damping at the end however it ends. ``start_now``: no start button (scripts)."""
    cfg, safety = cfg or DeployConfig(), safety or SafetyConfig()
    seq = _Sequence(backend, meta, cfg, log)
    damp_kd = np.maximum(seq.kd, safety.damping_kd)
    nu = len(seq.default)
    try:
        seq.enter(Phase.WAIT_STATE)
        if not backend.wait_for_state(cfg.state_timeout_s):
            raise BackendError(f"no state from the robot within {cfg.state_timeout_s:g} s")
        seq.enter(Phase.ZERO_TORQUE, f"{cfg.zero_torque_s:g} s")
        seq.hold(cfg.zero_torque_s, lambda t, q: (q, np.zeros(nu), np.zeros(nu)))
        q0 = seq.fresh_joints(safety.stale_timeout_s)
        seq.enter(Phase.RAMP, f"to the default pose over {cfg.ramp_s:g} s")
        ramp = (
            (lambda t, q: (q0 + (seq.default - q0) * min(t / cfg.ramp_s, 1.0), seq.kp, seq.kd))
            if cfg.ramp_s > 0
            else None
        )
        if ramp is not None:
            seq.hold(cfg.ramp_s, ramp)
        seq.enter(Phase.WAIT_START, "--start given" if start_now else f"press {cfg.start_button}")
        started = start_now or seq.hold(
            cfg.start_timeout_s, lambda t, q: (seq.default, seq.kp, seq.kd), lambda: seq.pressed(cfg.start_button)
        )
        if not started:
            raise BackendError(f"{cfg.start_button} was not pressed within {cfg.start_timeout_s:g} s")
        seq.enter(Phase.POLICY, f"for {duration:g} s")
        steer = _steering(backend, meta, command)
        live = LiveCommandPolicy(policy, meta.obs_layout, steer) if steer is not None else policy
        stopped: list[bool] = []

        def stop(tick: Tick) -> bool:
            """The loop's observer: end the run (and remember why) when the stop button is held."""
            if seq.pressed(cfg.stop_button):
                stopped.append(True)
            return bool(stopped)

        seq.result.stats = run_loop(backend, live, meta, command, duration, safety, stop)
        why = seq.result.stats.trip_reason or (f"{cfg.stop_button} pressed" if stopped else f"{duration:g} s done")
        seq.enter(Phase.DAMPING, why)
    except BaseException as err:
        seq.enter(Phase.DAMPING, f"{type(err).__name__}: {err}")
        raise
    finally:
        for _ in range(3):
            backend.damp(damp_kd)
    return seq.result


def _steering(backend: Any, meta: PolicyMeta, command: np.ndarray) -> Callable[[], np.ndarray] | None:  # noqa: ANN401
    """The command source: the remote's sticks while deflected, else ``command``; None without a remote."""
    if not hasattr(backend, "remote"):
        return None
    box = CommandBox.from_ranges(meta.command_ranges)
    fixed = np.asarray(command, np.float32)

    def source() -> np.ndarray:
        """The sticks' command, clipped to the trained box, or the fixed one when they are centred."""
        remote = backend.remote()
        if remote is None or not np.any(np.abs(remote.sticks()) > 0.1):
            return fixed
        return stick_to_command(remote.sticks(), box).astype(np.float32)

    return source


__all__ = ["DeployConfig", "DeployResult", "Phase", "Tick", "deploy"]
