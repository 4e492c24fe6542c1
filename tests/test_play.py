"""`python -m mjx_walker.play`: keys and sticks to commands, the play session on a stand-in viewer, no display."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest

from mjx_walker import play
from mjx_walker.runner import teleop as T
from mjx_walker.runner.inference import OnnxPolicy

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "models" / "policies" / "berkeley_humanoid_cpu" / "policy.onnx"
RANGES = {"lin_vel_x": [0.0, 0.6], "lin_vel_y": [-0.3, 0.3], "yaw_rate": [-0.7, 0.7]}  # the shipped policy's
BOX = T.CommandBox.from_ranges(RANGES)


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ([T.KEY_UP], [0.1, 0, 0]),
        ([T.KEY_W, T.KEY_W], [0.2, 0, 0]),
        ([T.KEY_LEFT], [0, 0.1, 0]),
        ([T.KEY_A, T.KEY_D, T.KEY_RIGHT], [0, -0.1, 0]),
        ([T.KEY_Q, T.KEY_Q], [0, 0, 0.2]),
        ([T.KEY_E], [0, 0, -0.1]),
        ([T.KEY_UP, T.KEY_Q, T.KEY_SPACE], [0, 0, 0]),  # space stops
        ([T.KEY_DOWN], [0, 0, 0]),  # vx is trained from 0 m/s: it stays there
        ([T.KEY_UP] * 10, [0.6, 0, 0]),  # up to 0.6 m/s and no further
        ([T.KEY_RIGHT] * 5, [0, -0.3, 0]),
        ([ord("X"), 999], [0, 0, 0]),  # unbound keys change nothing
    ],
)
def test_keys_steer_within_the_trained_ranges(keys, expected):
    teleop = T.Teleop(BOX)
    for key in keys:
        teleop.press(key)
    np.testing.assert_allclose(teleop.command(), expected, atol=1e-9)
    assert not teleop.take("reset") and not teleop.take("push")


def test_reset_and_push_are_one_shot_requests_that_keep_the_command():
    teleop = T.Teleop(BOX)
    for key in (T.KEY_UP, T.KEY_R, T.KEY_P):
        teleop.press(key)
    np.testing.assert_allclose(teleop.command(), [0.1, 0, 0])
    assert teleop.take("reset") and not teleop.take("reset")
    assert teleop.take("push") and not teleop.take("push")


def test_apply_key_is_pure_and_step_sizes_apply():
    command = np.array([0.2, 0.0, 0.0])
    moved, event = T.apply_key(command, T.KEY_W, BOX, step=(0.25, 0.1, 0.1))
    np.testing.assert_allclose(moved, [0.45, 0, 0])
    np.testing.assert_allclose(command, [0.2, 0, 0])  # the input is not modified
    assert event is None
    assert T.apply_key(command, T.KEY_R, BOX)[1] == "reset" and T.apply_key(command, T.KEY_P, BOX)[1] == "push"


def test_stop_is_zero_clipped_into_a_box_that_excludes_it():
    box = T.CommandBox.from_ranges({"lin_vel_x": [0.2, 0.6], "lin_vel_y": [-0.3, 0.3], "yaw_rate": [-0.7, 0.7]})
    np.testing.assert_allclose(box.stop(), [0.2, 0, 0])
    np.testing.assert_allclose(T.apply_key(np.array([0.5, 0.1, 0.3]), T.KEY_SPACE, box)[0], [0.2, 0, 0])


def test_sticks_scale_into_the_ranges_with_a_deadzone():
    np.testing.assert_allclose(T.stick_to_command([1.0, -1.0, 1.0], BOX), [0.6, -0.3, 0.7])
    np.testing.assert_allclose(T.stick_to_command([-1.0, 1.0, -1.0], BOX), [0.0, 0.3, -0.7])
    np.testing.assert_allclose(T.stick_to_command([0.05, -0.08, 0.0], BOX), [0, 0, 0])  # inside the deadzone
    np.testing.assert_allclose(T.stick_to_command([0.55, 0, 0], BOX, deadzone=0.1), [0.3, 0, 0])  # half way
    np.testing.assert_allclose(T.stick_to_command([3.0, 0, 0], BOX), [0.6, 0, 0])  # out-of-range axis: clipped


def test_sticks_steer_while_deflected_then_stop_once_and_hand_back_to_the_keys():
    mapper = T.StickMapper(BOX)
    assert mapper.update([0.0, 0.0, 0.0]) is None  # never touched: the keyboard drives
    np.testing.assert_allclose(mapper.update([1.0, 0.0, 0.0]), [0.6, 0, 0])
    np.testing.assert_allclose(mapper.update([0.02, 0.0, 0.0]), [0, 0, 0])  # released: stop once
    assert mapper.update([0.0, 0.0, 0.0]) is None


def test_live_command_reaches_the_observation():
    meta_layout = [
        {"name": "gyro", "size": 3},
        {"name": "command", "size": 3, "scale": 2.0},
        {"name": "gravity", "size": 3},
    ]
    seen = []
    live = T.LiveCommandPolicy(
        lambda obs: seen.append(obs.copy()) or np.zeros(2), meta_layout, lambda: np.array([0.5, -0.1, 0.2])
    )
    obs = np.arange(9, dtype=np.float32)
    live(obs)
    np.testing.assert_allclose(seen[0], [0, 1, 2, 1.0, -0.2, 0.4, 6, 7, 8], rtol=1e-6)
    assert obs[3] == 3  # the loop's own observation is left as it was
    assert T.command_slot([{"name": "gyro", "size": 3}]) is None


def test_paced_clock_keeps_pace_and_never_rushes_to_catch_up():
    wall = [100.0]
    slept = []

    def sleep(s):
        slept.append(s)
        wall[0] += s

    clock = play.PacedClock(wall=lambda: wall[0], sleep=sleep)
    clock.sleep_until(0.02)
    assert clock.now() == 0.02 and slept == [pytest.approx(0.02)]
    wall[0] += 0.5  # a tick that took 0.5 s of wall time (a slow viewer)
    clock.sleep_until(0.04)
    assert clock.now() == 0.04 and len(slept) == 1  # late: no wait, and no deadline miss on this clock
    clock.sleep_until(0.06)
    assert slept[-1] == pytest.approx(0.02)  # re-anchored: the next tick waits a full period again


def test_display_problem_without_a_window():
    assert "DISPLAY is not set" in play.display_problem({}, "linux")
    assert play.display_problem({"DISPLAY": ":0"}, "linux") is None
    assert play.display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert "offscreen" in play.display_problem({"DISPLAY": ":0", "MUJOCO_GL": "egl"}, "linux")
    assert play.display_problem({}, "darwin") is None


@pytest.mark.parametrize("env", [{"DISPLAY": ""}, {"MUJOCO_GL": "osmesa", "DISPLAY": ":0"}])
def test_cli_without_a_display_is_one_line_exit_2(monkeypatch, capsys, env):
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert play.main([str(SHIPPED.parent)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.strip().splitlines()) == 1 and "window" in out.err


class StandInViewer:
    """The viewer handle's surface, driven by a script of key presses per sync."""

    def __init__(self, teleop: T.Teleop, script: dict[int, list[int]], close_at: int) -> None:
        self.teleop, self.script, self.close_at = teleop, script, close_at
        self.syncs, self.texts = 0, []

    def is_running(self) -> bool:
        return self.syncs < self.close_at

    def lock(self):
        return contextlib.nullcontext()

    def set_texts(self, texts):
        self.texts = texts

    def sync(self):
        self.syncs += 1
        for key in self.script.get(self.syncs, []):
            self.teleop.press(key)


def test_play_session_steers_pushes_and_resets_through_the_runner_loop():
    from mjx_walker.runner.session import make_backend

    policy = OnnxPolicy(SHIPPED, verbose=False)
    start, _ = T.command_slot(policy.meta.obs_layout)
    commands = []

    def recording(obs):
        commands.append(np.asarray(obs[start : start + 3]).copy())
        return policy(obs)

    recording.meta, recording.provider = policy.meta, policy.provider
    backend = make_backend("mujoco", policy.meta)  # simulated time: as fast as it goes
    teleop = T.Teleop(T.CommandBox.from_ranges(policy.meta.command_ranges))
    script = {10: [T.KEY_UP] * 3, 20: [T.KEY_Q], 30: [T.KEY_P], 60: [T.KEY_R], 70: [T.KEY_SPACE]}
    viewer = StandInViewer(teleop, script, close_at=90)
    player = play.Player(recording, backend, viewer, teleop, push_mps=0.4)
    kicks = []
    kick = backend.kick
    backend.kick = lambda v: (kicks.append((backend.data.time, np.asarray(v))), kick(v))
    player.run()

    assert player.episodes == 2 and viewer.syncs == 90  # R started a second episode; closing ended the session
    np.testing.assert_allclose(commands[0], [0, 0, 0])
    np.testing.assert_allclose(commands[15], [0.3, 0, 0], atol=1e-6)  # after three presses of up
    np.testing.assert_allclose(commands[25], [0.3, 0, 0.1], atol=1e-6)
    np.testing.assert_allclose(commands[-1], [0, 0, 0], atol=1e-6)  # space
    assert len(kicks) == 1 and np.linalg.norm(kicks[0][1]) == pytest.approx(0.4)
    assert backend.data.time < 40 * policy.meta.ctrl_dt  # the clock restarted with the second episode
    assert "command" in viewer.texts[0][2] and "measured" in viewer.texts[0][2]
