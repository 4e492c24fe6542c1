"""Safety layer: each trigger with a scripted fake backend."""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Callable

import numpy as np
import pytest
from runner_helpers import SMALL_PPO, faulty_backend_class

from mjx_walker.configs import EnvConfig
from mjx_walker.model import build_robot_model
from mjx_walker.onnx_meta import PolicyMeta, build_meta
from mjx_walker.runner.backend import RobotBackend, RobotState, SimClock
from mjx_walker.runner.loop import run_loop
from mjx_walker.runner.safety import Mode, SafetyConfig, SafetyError, SafetyLayer, tilt_from_gravity


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


def test_nan_observation_goes_to_damping(meta, monkeypatch):
    # every input of the observation is checked before it is built (readings, command, metadata),
    # so a non-finite one needs a broken builder
    from mjx_walker.runner import loop

    monkeypatch.setattr(loop, "build_obs", lambda layout, readings: np.full(3, np.inf, np.float32))
    stats = run_loop(FakeBackend(meta), zero_policy(), meta, np.zeros(3), 0.1, NO_RAMP)
    assert stats.final_mode == "damping" and stats.trip_reason == "non-finite observation"
    assert stats.policy_ticks == 0


def test_nan_command_refused_before_anything_is_commanded(meta):
    be = FakeBackend(meta)
    with pytest.raises(SafetyError, match="command lin_vel_x = inf m/s is invalid"):
        run_loop(be, zero_policy(), meta, np.array([np.inf, 0, 0]), 0.1, NO_RAMP)
    assert be.writes == [] and be.damps == 0


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


def test_future_timestamp_goes_to_damping(meta):
    be = FakeBackend(meta, lambda t, b: {"timestamp": t + 0.2} if t >= 0.09 else {})
    stats = run_loop(be, zero_policy(), meta, np.zeros(3), 0.3, NO_RAMP)
    assert stats.final_mode == "damping" and stats.trip_reason.startswith("reading from the future")
    assert len(be.writes) == 5


def test_backwards_timestamp_goes_to_damping(meta):
    be = FakeBackend(meta, lambda t, b: {"timestamp": t - 0.05} if t >= 0.09 else {})  # 50 ms back, not stale
    stats = run_loop(be, zero_policy(), meta, np.zeros(3), 0.3, NO_RAMP)
    assert stats.final_mode == "damping" and stats.trip_reason.startswith("timestamps went backwards")
    assert len(be.writes) == 5


@pytest.mark.parametrize(
    ("reading", "reason"),
    [
        ({"joint_vel": np.full(12, 1e6)}, "implausible joint_vel"),
        ({"joint_pos": np.r_[50.0, np.zeros(11)]}, "implausible joint_pos[0] = 50 rad"),
        ({"gravity": np.array([0.0, 0.0, -9.81])}, "implausible gravity: norm 9.81"),
        ({"gyro": np.array([0.0, 500.0, 0.0])}, "implausible gyro"),
        ({"joint_pos": np.zeros(5)}, "reading joint_pos has shape (5,)"),
    ],
)
def test_implausible_reading_goes_to_damping(meta, reading, reason):
    be = FakeBackend(meta, lambda t, b: reading if t >= 0.09 else {})
    stats = run_loop(be, zero_policy(), meta, np.zeros(3), 0.3, NO_RAMP)
    assert stats.final_mode == "damping" and stats.trip_reason.startswith(reason), stats.trip_reason
    assert len(be.writes) == 5


def test_noisy_but_plausible_readings_pass(meta):
    """Training-level sensor noise and a joint slightly past its limit do not trip anything."""
    upper = np.asarray(meta.joint_upper)
    rng = np.random.default_rng(0)

    def noisy(t: float, b: FakeBackend) -> dict:
        """Training's noise amplitudes x2 (gyro 0.2 rad/s, gravity 0.05, joint_vel 1.5 rad/s)."""
        g = np.array([0.0, 0.0, -1.0]) + rng.uniform(-0.1, 0.1, 3)
        pos = b.pose.copy()
        pos[3] = upper[3] + 0.05
        return {"gravity": g, "gyro": rng.uniform(-0.4, 0.4, 3), "joint_vel": rng.uniform(-3, 3, 12), "joint_pos": pos}

    stats = run_loop(FakeBackend(meta, noisy), zero_policy(), meta, np.zeros(3), 1.0, NO_RAMP)
    assert stats.final_mode == "policy" and stats.policy_ticks == stats.ticks == 50


def test_consecutive_deadline_misses_go_to_damping(meta):
    be = faulty_backend_class()(meta, read_cost_s=0.03)  # every tick overruns its 20 ms period
    stats = run_loop(be, zero_policy(), meta, np.zeros(3), 1.0, SafetyConfig(ramp_duration_s=0.0))
    assert stats.final_mode == "damping" and stats.trip_reason == "5 consecutive deadline misses (control period 20 ms)"
    assert be.calls.count("write") == 5 and be.calls[-1] == "damp"


def test_inference_stall_goes_to_damping(meta):
    be = FakeBackend(meta)

    def stalls(obs: np.ndarray) -> np.ndarray:
        """A policy call that takes 300 ms of the robot's time from t = 0.1 s on."""
        if be.clock.now() >= 0.09:
            be.clock.sleep_until(be.clock.now() + 0.3)
        return np.zeros(12, np.float32)

    stats = run_loop(be, stalls, meta, np.zeros(3), 1.0, NO_RAMP)
    assert stats.final_mode == "damping" and stats.trip_reason == "inference stall: 300 ms > 50 ms"
    assert len(be.writes) == 5  # the stalled call's action is never sent


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(SafetyConfig)])
def test_safety_config_refuses_nan(name):
    with pytest.raises(SafetyError, match=rf"^SafetyConfig\.{name} = nan is invalid: expected "):
        SafetyConfig(**{name: float("nan")})


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("max_target_rate", -30.0, "rad/s > 0"),
        ("stale_timeout_s", 0.0, "seconds > 0"),
        ("max_tilt_rad", 4.0, "an angle in (0, pi] rad"),
        ("damping_kd", -1.0, "N·m·s/rad >= 0"),
        ("max_consecutive_misses", 0, "a whole number >= 1"),
        ("gravity_norm_tol", 1.0, "a fraction in (0, 1)"),
        ("ramp_duration_s", "1", "seconds >= 0 (0: no ramp)"),
        ("max_joint_vel", float("inf"), "rad/s > 0"),
    ],
)
def test_safety_config_names_field_value_and_rule(field, value, allowed):
    with pytest.raises(SafetyError) as info:
        SafetyConfig(**{field: value})
    assert str(info.value) == f"SafetyConfig.{field} = {value!r} is invalid: expected {allowed}"


def test_joint_limit_margin_wider_than_a_joint_is_refused(meta):
    with pytest.raises(SafetyError, match="joint_limit_margin = 5.0 is invalid"):
        SafetyLayer(
            SafetyConfig(joint_limit_margin=5.0), meta.joint_lower, meta.joint_upper, meta.default_joint_pos, 0.02
        )


def _alarm(signum: int, frame: object) -> None:
    """SIGALRM handler: a hung loop fails the test instead of hanging it."""
    raise TimeoutError("the loop hung")


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("ctrl_dt", -0.02, "ctrl_dt = -0.02 is invalid: expected a finite control period > 0 s"),
        ("ctrl_dt", 0.0, "ctrl_dt = 0.0 is invalid"),
        ("ctrl_dt", float("nan"), "ctrl_dt = nan is invalid"),
        ("action_scale", float("nan"), "action_scale = nan is invalid"),
        ("default_joint_pos", [float("nan")] * 12, "default_joint_pos = [nan"),
        ("joint_upper", [float("inf")] * 12, "joint_upper = [inf"),
        ("kp", [-1.0] * 12, "kp = [-1.0"),
        ("kd", [0.5] * 11, "kd = [0.5"),
        ("initial_gait_phase", [0.0, float("nan")], "initial_gait_phase = [0.0, nan]"),
    ],
)
def test_bad_metadata_refused_before_anything_is_commanded(meta, field, value, words):
    """Bad metadata would hang the loop (ctrl_dt <= 0) or send non-finite targets or gains."""
    bad = dataclasses.replace(meta, **{field: value})
    be = FakeBackend(meta)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(10)
    try:
        with pytest.raises(SafetyError, match="policy metadata") as info:
            run_loop(be, zero_policy(), bad, np.zeros(3), 0.2, NO_RAMP)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert words in str(info.value)
    assert be.writes == [] and be.damps == 0


# ------------------------------------------------------------------------------ thresholds


def test_action_far_beyond_the_clip_trips_instead_of_being_clipped(meta):
    """An action of 11 (> 10 x the clip) is not clipped to 1 and sent: the policy is off its distribution."""
    be = FakeBackend(meta)

    def wild(obs: np.ndarray) -> np.ndarray:
        """Zeros, then 11 on joint 3 from t = 0.1 s."""
        action = np.zeros(12, np.float32)
        action[3] = 11.0 if be.clock.now() >= 0.09 else 0.0
        return action

    stats = run_loop(be, wild, meta, np.zeros(3), 0.3, NO_RAMP)
    assert stats.final_mode == "damping" and stats.trip_reason.startswith(
        "action[3] = 11 is beyond 10 x the action clip"
    )
    assert len(be.writes) == 5


def test_action_within_the_factor_is_clipped(meta):
    stats = run_loop(FakeBackend(meta), lambda obs: np.full(12, 5.0, np.float32), meta, np.zeros(3), 0.2, NO_RAMP)
    assert stats.final_mode == "policy" and stats.policy_ticks == 10


@pytest.mark.parametrize(
    ("joint", "beyond", "trips"),
    [
        (5, 0.3, True),  # ankle roll, range 1.05 rad: 0.3 rad past its limit is implausible (a flat 0.5 rad let it by)
        (2, 0.55, False),  # hip pitch, range 2.27 rad: 0.55 rad past its limit is within a quarter of its range
    ],
)
def test_joint_pos_margin_is_sized_from_each_joint_range(meta, joint, beyond, trips):
    upper = np.asarray(meta.joint_upper)

    def past_limit(t: float, b: FakeBackend) -> dict:
        """Joint ``joint`` read ``beyond`` rad past its upper limit from t = 0.1 s."""
        pos = b.pose.copy()
        if t >= 0.09:
            pos[joint] = upper[joint] + beyond
        return {"joint_pos": pos}

    stats = run_loop(FakeBackend(meta, past_limit), zero_policy(), meta, np.zeros(3), 0.3, NO_RAMP)
    if trips:
        assert stats.final_mode == "damping" and stats.trip_reason.startswith(f"implausible joint_pos[{joint}]")
        assert "(0.25 of its range)" in stats.trip_reason
    else:
        assert stats.final_mode == "policy", stats.trip_reason


def pushing_policy(calls: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """Action +1 on every joint (for the first ``calls`` calls, zeros after; None: always)."""
    count = [0]

    def act(obs: np.ndarray) -> np.ndarray:
        """+1 while pushing."""
        count[0] += 1
        return np.ones(12, np.float32) if calls is None or count[0] <= calls else np.zeros(12, np.float32)

    return act


def test_torque_over_its_limit_for_several_ticks_trips(meta):
    """Stiff gains and a joint that does not follow: the PD torque stays over 2 x the limit -> damping."""
    stiff = dataclasses.replace(meta, kp=[100.0, *meta.kp[1:]])  # joint 0: 100 N·m/rad x 0.5 rad = 50 > 2 x 20 N·m
    be = FakeBackend(stiff)  # the joints stay at the default pose whatever is commanded
    stats = run_loop(be, pushing_policy(), stiff, np.zeros(3), 0.5, NO_RAMP)
    assert stats.final_mode == "damping" and stats.trip_reason.startswith("torque: joint 0 needs 50 N·m"), (
        stats.trip_reason
    )
    assert "over 2 x its limit 20 N·m for 5 ticks in a row" in stats.trip_reason
    assert len(be.writes) == 4  # the fifth tick's target is not sent


def test_torque_over_its_limit_briefly_does_not_trip(meta):
    stiff = dataclasses.replace(meta, kp=[100.0, *meta.kp[1:]])
    stats = run_loop(FakeBackend(stiff), pushing_policy(calls=4), stiff, np.zeros(3), 0.5, NO_RAMP)
    assert stats.final_mode == "policy" and stats.policy_ticks == 25


def test_torque_limit_is_checked_against_the_unclipped_pd_law(meta):
    from mjx_walker.pd import pd_torque

    layer = SafetyLayer(
        SafetyConfig(max_torque_ticks=1), meta.joint_lower, meta.joint_upper, meta.default_joint_pos, 0.02
    )
    default = np.asarray(meta.default_joint_pos)
    state = FakeBackend(meta).read_state()
    limit = np.asarray(meta.torque_limit)
    kp = np.full(12, 10.0)
    target = default.copy()
    target[4] += 2.0 * limit[4] / 10.0 * 0.99  # just under 2 x the limit
    assert layer.check_torque(state, target, kp, np.zeros(12), limit)
    assert pd_torque(state.joint_pos, state.joint_vel, target, kp, 0.0, limit)[4] == limit[4]  # the drive clips it
    target[4] = default[4] + 2.0 * limit[4] / 10.0 * 1.01
    assert not layer.check_torque(state, target, kp, np.zeros(12), limit) and layer.mode == Mode.DAMPING


class HeightBackend(FakeBackend):
    """A FakeBackend that measures its base height: ``heights(t)`` -> fraction of standing."""

    def __init__(self, meta: PolicyMeta, heights: Callable[[float], object]) -> None:
        super().__init__(meta)
        self.heights = heights

    def base_height_fraction(self) -> object:
        """The scripted height fraction now."""
        return self.heights(self.clock.now())


def test_low_base_height_damps_and_stops(meta):
    be = HeightBackend(meta, lambda t: 0.4 if t >= 0.09 else 1.0)
    stats = run_loop(be, zero_policy(), meta, np.zeros(3), 5.0, NO_RAMP)
    assert stats.final_mode == "stopped" and stats.trip_reason == "fall: base at 0.40 of its standing height (< 0.5)"
    assert stats.ticks == 6 and len(be.writes) == 5


def test_mujoco_backend_measures_a_fall_by_height(meta):
    """A MuJoCo robot whose base is at 40 % of its standing height (upright) stops on the first tick."""
    from mjx_walker.runner.mujoco_backend import MuJoCoBackend

    robot = build_robot_model(meta.robot)
    qpos = robot.default_qpos.copy()
    qpos[2] = 0.4 * robot.standing_height
    be = MuJoCoBackend(robot, qpos=qpos)
    stats = run_loop(be, zero_policy(), meta, np.zeros(3), 5.0, NO_RAMP)
    assert stats.final_mode == "stopped" and stats.trip_reason.startswith("fall: base at 0.40")
    assert stats.ticks == 1 and stats.policy_ticks == 0


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("max_action_factor", 0.5, "a factor >= 1 of the action clip"),
        ("max_torque_factor", 0.9, "a factor >= 1 of the torque limit"),
        ("max_torque_ticks", 2.5, "a whole number >= 1"),
        ("min_height_fraction", 1.0, "a fraction in [0, 1) (0: off)"),
        ("watchdog_timeout_s", 0.0, "seconds > 0"),
        ("joint_pos_margin", -0.1, "a fraction >= 0 of each joint's range"),
    ],
)
def test_new_thresholds_are_checked(field, value, allowed):
    with pytest.raises(SafetyError) as info:
        SafetyConfig(**{field: value})
    assert str(info.value) == f"SafetyConfig.{field} = {value!r} is invalid: expected {allowed}"
