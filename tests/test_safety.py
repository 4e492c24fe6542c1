"""Safety layer: each trigger with a scripted fake backend."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from runner_helpers import SMALL_PPO

from mjx_walker.configs import EnvConfig
from mjx_walker.model import build_robot_model
from mjx_walker.onnx_meta import PolicyMeta, build_meta
from mjx_walker.runner.backend import RobotBackend, RobotState, SimClock
from mjx_walker.runner.loop import run_loop
from mjx_walker.runner.safety import Mode, SafetyConfig, SafetyLayer, tilt_from_gravity


@pytest.fixture(scope="module")
def meta() -> PolicyMeta:
    return build_meta(EnvConfig(), SMALL_PPO, build_robot_model("berkeley_humanoid"))


class FakeBackend(RobotBackend):
    """Scripted robot: ``script(t, backend)`` returns the reading at clock time t."""

    def __init__(self, meta: PolicyMeta, script: Callable[[float, FakeBackend], dict] | None = None) -> None:
        self.clock = SimClock()
        self.meta = meta
        self.script = script or (lambda t, b: {})
        self.writes: list[np.ndarray] = []
        self.damps = 0
        self.pose = np.asarray(meta.default_joint_pos, float)

    def read_state(self) -> RobotState:
        t = self.clock.now()
        fields = {
            "timestamp": t,
            "joint_pos": self.pose.copy(),
            "joint_vel": np.zeros(self.meta.nu),
            "gyro": np.zeros(3),
            "gravity": np.array([0.0, 0.0, -1.0]),
        }
        fields.update(self.script(t, self))
        return RobotState(**fields)

    def write_targets(self, targets, kp, kd) -> None:
        self.writes.append(np.asarray(targets).copy())

    def damp(self, kd) -> None:
        self.damps += 1


def zero_policy(calls: list[int] | None = None) -> Callable[[np.ndarray], np.ndarray]:
    def act(obs: np.ndarray) -> np.ndarray:
        if calls is not None:
            calls.append(1)
        return np.zeros(12, np.float32)

    return act


NO_RAMP = SafetyConfig(ramp_duration_s=0.0)


def test_nan_reading_goes_to_damping(meta):
    be = FakeBackend(meta, lambda t, b: {"joint_vel": np.full(meta.nu, np.nan)} if t >= 0.09 else {})
    stats = run_loop(be, zero_policy(), meta, np.zeros(3), 0.3, NO_RAMP)
    assert stats.final_mode == Mode.DAMPING.value and "non-finite" in stats.trip_reason
    assert len(be.writes) == 5 and be.damps >= 10  # 5 ticks before t=0.1, damping after (latched)


def test_nan_action_goes_to_damping(meta):
    stats = run_loop(FakeBackend(meta), lambda obs: np.full(12, np.nan), meta, np.zeros(3), 0.1, NO_RAMP)
    assert stats.final_mode == "damping" and stats.trip_reason == "non-finite action"


def test_nan_observation_goes_to_damping(meta):
    stats = run_loop(FakeBackend(meta), zero_policy(), meta, np.array([np.inf, 0, 0]), 0.1, NO_RAMP)
    assert stats.final_mode == "damping" and stats.trip_reason == "non-finite observation"
    assert stats.policy_ticks == 0


def test_stale_state_goes_to_damping(meta):
    frozen = {"timestamp": 0.0}
    be = FakeBackend(meta, lambda t, b: frozen)  # the reading never updates
    stats = run_loop(be, zero_policy(), meta, np.zeros(3), 0.5, SafetyConfig(ramp_duration_s=0.0, stale_timeout_s=0.1))
    assert stats.final_mode == "damping" and stats.trip_reason.startswith("stale state")
    # fresh for ticks at t = 0, 0.02, ..., 0.1; stale from 0.12 s on
    assert len(be.writes) == 6 and be.damps > 0


def test_tilt_damps_and_stops(meta):
    tilted = np.array([np.sin(1.0), 0.0, -np.cos(1.0)])  # 1 rad
    be = FakeBackend(meta, lambda t, b: {"gravity": tilted} if t >= 0.19 else {})
    stats = run_loop(be, zero_policy(), meta, np.zeros(3), 5.0, SafetyConfig(ramp_duration_s=0.0, max_tilt_rad=0.8))
    assert stats.final_mode == "stopped" and stats.trip_reason.startswith("tilt")
    assert stats.ticks == 11 and be.damps >= 1  # stopped at t = 0.2 s, well before 5 s
    assert tilt_from_gravity(tilted) == pytest.approx(1.0)


def test_targets_clamped_to_joint_limits(meta):
    layer = SafetyLayer(
        SafetyConfig(max_target_rate=1e9), meta.joint_lower, meta.joint_upper, meta.default_joint_pos, 0.02
    )
    far = np.asarray(meta.joint_upper) + 1.0
    np.testing.assert_allclose(layer.limit(far), meta.joint_upper)
    np.testing.assert_allclose(layer.limit(np.asarray(meta.joint_lower) - 1.0), meta.joint_lower)
    # through the loop: a saturated policy with a huge action scale never leaves the limits
    from dataclasses import replace

    big = replace(meta, action_scale=10.0)
    be = FakeBackend(big)
    run_loop(be, lambda obs: np.ones(12, np.float32), big, np.zeros(3), 1.0, SafetyConfig(ramp_duration_s=0.0))
    sent = np.array(be.writes)
    assert np.all(sent <= np.asarray(meta.joint_upper) + 1e-12) and np.all(sent >= np.asarray(meta.joint_lower) - 1e-12)
    assert np.allclose(sent[-1], meta.joint_upper)


def test_rate_limit(meta):
    cfg = SafetyConfig(max_target_rate=5.0)
    layer = SafetyLayer(cfg, meta.joint_lower, meta.joint_upper, meta.default_joint_pos, 0.02)
    default = np.asarray(meta.default_joint_pos)
    layer.start(default, 0.0)
    goal = np.clip(default + 0.5, meta.joint_lower, meta.joint_upper)
    prev = default
    for _ in range(20):
        out = layer.limit(goal)
        assert np.max(np.abs(out - prev)) <= 5.0 * 0.02 + 1e-12
        prev = out
    np.testing.assert_allclose(prev, goal)  # reached after enough ticks


def test_startup_ramp_before_policy(meta):
    default = np.asarray(meta.default_joint_pos)
    start = np.clip(default + 0.3, meta.joint_lower, meta.joint_upper)
    be = FakeBackend(meta)
    be.pose = start  # the robot sits away from the default pose
    calls: list[int] = []
    cfg = SafetyConfig(ramp_duration_s=0.5, max_target_rate=100.0)
    stats = run_loop(be, zero_policy(calls), meta, np.zeros(3), 1.0, cfg)
    sent = np.array(be.writes)
    n_ramp = stats.ticks - stats.policy_ticks
    assert n_ramp in (25, 26)  # ramp covers t = 0 .. 0.5 s; the policy engages right after
    assert len(calls) == stats.policy_ticks
    ramp = sent[:n_ramp]
    np.testing.assert_allclose(ramp[0], start)
    dist = np.linalg.norm(ramp - default, axis=1)
    assert np.all(np.diff(dist) <= 1e-12)
    np.testing.assert_allclose(ramp[-1], default, atol=1e-4)
    np.testing.assert_allclose(sent[n_ramp], default)  # zero action = default pose


def test_no_ramp_when_already_at_the_default_pose(meta):
    """A robot standing in the default pose (sensor noise aside) is handed to the policy at once."""
    default = np.asarray(meta.default_joint_pos)
    be = FakeBackend(meta)
    be.pose = default + 0.02  # within ramp_skip_rad of the default pose
    calls: list[int] = []
    stats = run_loop(be, zero_policy(calls), meta, np.zeros(3), 0.5, SafetyConfig(ramp_duration_s=1.0))
    assert stats.policy_ticks == stats.ticks > 0 and len(calls) == stats.ticks
