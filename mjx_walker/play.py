"""Drive a policy with the keyboard in MuJoCo's viewer: ``python -m mjx_walker.play POLICY``.

POLICY is the ONNX file, a policy directory or a run directory. The policy runs in real time
(:class:`PacedClock`: slow motion rather than a deadline trip when the computer cannot keep up)
through the runner's own control loop (:func:`mjx_walker.runner.loop.run_loop`, safety layer
included) on the simulated robot (:class:`~mjx_walker.runner.mujoco_backend.MuJoCoBackend`); the
viewer shows the robot's full scene (visual meshes), a camera following it, the command and the
measured speed. Keys: arrows or WASD for vx/vy, Q/E to turn, space to stop, R to reset, P to
push (a horizontal velocity kick in a random direction). The command stays within the policy's
trained ranges. With pygame installed and a gamepad plugged in, the left stick drives vx/vy and
the right stick turns. A fall or a safety trip stops the robot (damped, frozen) until R.

Needs a display (on macOS, run it with ``mjpython``) and the simulator: ``pip install "mjx_walker[sim]"``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from mjx_walker.cli import ArgumentParser, missing_sim_module, sim_unavailable, user_error
from mjx_walker.onnx_meta import PolicyFileError
from mjx_walker.policy_paths import resolve_policy
from mjx_walker.policy_spec import SpecError
from mjx_walker.runner.backend import Clock
from mjx_walker.runner.inference import OnnxPolicy, PolicyMismatchError
from mjx_walker.runner.loop import BackendMismatchError, RunStats, Tick, run_loop
from mjx_walker.runner.render import DisplayScene, overlay_lines
from mjx_walker.runner.safety import SafetyConfig, SafetyError
from mjx_walker.runner.session import BackendUnavailableError, make_backend
from mjx_walker.runner.teleop import (
    DEFAULT_STEP,
    HELP,
    CommandBox,
    Gamepad,
    LiveCommandPolicy,
    StickMapper,
    Teleop,
)

PROG = "python -m mjx_walker.play"
SMOOTH_S = 0.5  # s: time constant of the measured speed shown


def display_problem(environ: Mapping[str, str], platform: str) -> str | None:
    """Why no viewer window can open here (from the environment alone), or None if one may."""
    gl = environ.get("MUJOCO_GL", "").strip().lower()
    if gl and gl != "glfw":
        return (
            f"MUJOCO_GL={gl} renders offscreen only; the viewer needs a window: unset MUJOCO_GL on a machine "
            "with a display (or record a video: python -m mjx_walker.evaluate POLICY --video walk.mp4)"
        )
    if platform.startswith("linux") and not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")):
        return (
            "no display: the viewer needs a window (DISPLAY is not set); on a machine without one, record a video: "
            "python -m mjx_walker.evaluate POLICY --episodes 1 --video walk.mp4"
        )
    return None


def glfw_problem() -> str | None:
    """Why GLFW cannot open windows here, or None if it initialises."""
    import warnings

    import glfw

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glfw reports its own errors as warnings: the one line below says it
        if glfw.init():
            return None
    return "cannot open a window: GLFW could not initialise (is the display reachable?)"


class PacedClock(Clock):
    """Simulated time that runs at the wall clock's pace, never faster and never catching up.

    When the computer keeps up, simulated time is real time; when a tick takes longer (a slow
    viewer), the simulation runs in slow motion instead of bursting to catch up, and the control
    loop sees no deadline miss: on a simulated robot, time can wait.
    """

    def __init__(
        self, wall: Callable[[], float] = time.perf_counter, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        """Start at 0 s; ``wall`` reads seconds, ``sleep`` waits seconds (the standard ones by default)."""
        self._wall, self._sleep = wall, sleep
        self._t = 0.0
        self._offset = wall()  # wall time at simulated time 0

    def now(self) -> float:
        """Simulated seconds."""
        return self._t

    def sleep_until(self, deadline: float) -> None:
        """Advance simulated time to ``deadline``; wait until the wall clock gets there, or re-anchor if late."""
        self._t = max(self._t, float(deadline))
        ahead = self._offset + self._t - self._wall()
        if ahead > 0:
            self._sleep(ahead)
        else:
            self._offset -= ahead  # behind: from now on, simulated time runs from here


def random_kick(rng: np.random.Generator, speed: float) -> np.ndarray:
    """(2,) m/s: a horizontal velocity of magnitude ``speed`` in a uniformly random direction (world frame)."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    return speed * np.array([np.cos(angle), np.sin(angle)])


class Player:
    """The play session: episodes of the runner's control loop, steered live, shown in a viewer.

    ``viewer`` is a ``mujoco.viewer.Handle`` (or anything with ``is_running``, ``sync`` and
    optionally ``set_texts``); ``display`` a :class:`~mjx_walker.runner.render.DisplayScene` the
    viewer draws (None: the viewer draws the backend's own model and data).
    """

    def __init__(
        self,
        policy: OnnxPolicy,
        backend: Any,  # a MuJoCoBackend, or one with its reset, kick, fallen and ground truth
        viewer: Any,  # a mujoco.viewer.Handle, or a stand-in with its methods
        teleop: Teleop,
        display: DisplayScene | None = None,
        gamepad: Gamepad | None = None,
        push_mps: float = 0.5,
        seed: int = 0,
    ) -> None:
        """Set up; nothing runs before :meth:`run`."""
        self.policy, self.meta, self.backend, self.viewer = policy, policy.meta, backend, viewer
        self.teleop, self.display, self.gamepad, self.push_mps = teleop, display, gamepad, push_mps
        self.sticks = StickMapper(teleop.box)
        self.live = LiveCommandPolicy(policy, self.meta.obs_layout, teleop.command)
        self.rng = np.random.default_rng(seed)
        self.measured = np.zeros(3)  # [vx m/s, vy m/s, yaw rad/s], smoothed
        self.episodes = 0
        self.pushes: list[np.ndarray] = []  # (2,) m/s each

    def run(self) -> None:
        """Episodes until the viewer closes: each ends on R (next episode), a fall or a trip (wait for R)."""
        while self.viewer.is_running():
            stats, reset = self.episode()
            if not self.viewer.is_running():
                break
            if not reset:
                why = stats.trip_reason or "the robot fell"
                print(f"{PROG}: stopped ({why}); press R to reset", file=sys.stderr)
                self.wait_for_reset()

    def episode(self) -> tuple[RunStats, bool]:
        """One run of the control loop from the standing pose; its stats and whether R ended it."""
        self.backend.reset()
        self.episodes += 1
        self.measured[:] = 0.0
        ended_by_reset: list[bool] = []

        def observe(tick: Tick) -> bool:
            """Per tick: push, gamepad, show; end on R, a fall, or the viewer closing."""
            if self.teleop.take("reset"):
                ended_by_reset.append(True)
                return True
            self.step_inputs()
            self.show()
            return self.backend.fallen(self.meta.min_height_fraction, self.meta.max_tilt_rad) or (
                not self.viewer.is_running()
            )

        safety = SafetyConfig(max_tilt_rad=self.meta.max_tilt_rad, ramp_duration_s=0.0)
        command = self.teleop.command()
        stats = run_loop(self.backend, self.live, self.meta, command, float("inf"), safety, observe, self.live.provider)
        return stats, bool(ended_by_reset)

    def step_inputs(self) -> None:
        """Apply a requested push and the gamepad's sticks."""
        if self.teleop.take("push"):
            kick = random_kick(self.rng, self.push_mps)
            self.backend.kick(kick)
            self.pushes.append(kick)
        if self.gamepad is not None:
            command = self.sticks.update(self.gamepad.sticks())
            if command is not None:
                self.teleop.set_command(command)

    def wait_for_reset(self) -> None:
        """Keep the stopped robot shown, frozen, until R or the viewer closes.

        The physics is not stepped: the simulated robot's feet alone touch the floor, so a damped
        robot would sink through it.
        """
        clock = self.backend.clock
        while self.viewer.is_running() and not self.teleop.take("reset"):
            self.show()
            clock.sleep_until(clock.now() + self.meta.ctrl_dt)

    def show(self) -> None:
        """Pose the display, write the command and measured speed, hand the frame to the viewer."""
        alpha = min(1.0, self.meta.ctrl_dt / SMOOTH_S)
        now = np.array([*self.backend.base_linvel()[:2], self.backend.base_yaw_rate()])
        self.measured += alpha * (now - self.measured)
        if self.display is not None:
            with self.viewer.lock():
                self.display.pose(self.backend.data.qpos)
        set_texts = getattr(self.viewer, "set_texts", None)
        if set_texts is not None:
            lines = overlay_lines(self.teleop.command(), self.measured, float(self.backend.data.time))
            set_texts([(None, None, "\n".join(lines), ""), (None, _bottom_left(), HELP, "")])
        self.viewer.sync()


def _bottom_left() -> int:
    """The viewer's bottom-left text position."""
    import mujoco

    return int(mujoco.mjtGridPos.mjGRID_BOTTOMLEFT)


def follow(viewer: Any, display: DisplayScene) -> None:
    """Point the viewer's camera at the robot's base and keep it there; draw the display's geom groups."""
    import mujoco

    with viewer.lock():
        viewer.cam.type = mujoco.mjtCamera.mjCAMERA_TRACKING
        viewer.cam.trackbodyid = display.root_body
        viewer.cam.distance, viewer.cam.elevation, viewer.cam.azimuth = 2.0, -15.0, 135.0
        if not display.visual:
            viewer.opt.geomgroup[:] = 1


def build_parser() -> ArgumentParser:
    """The play CLI's arguments."""
    parser = ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("policy", help="exported policy.onnx, or the policy or run directory holding it")
    parser.add_argument("--spec", default=None, metavar="TOML", help="policy spec of a policy trained elsewhere")
    parser.add_argument("--push-mps", type=float, default=0.5, metavar="V", help="size of the P push (default 0.5)")
    parser.add_argument(
        "--step",
        type=float,
        default=DEFAULT_STEP[0],
        metavar="X",
        help="command change per key press, m/s or rad/s (default 0.1)",
    )
    parser.add_argument("--no-gamepad", action="store_true", help="ignore a connected gamepad")
    return parser


def play(policy: OnnxPolicy, args: argparse.Namespace) -> int:
    """Open the viewer and play until it closes; 0, or 2 with one line if the viewer cannot start."""
    import mujoco
    import mujoco.viewer

    backend = make_backend("mujoco", policy.meta, clock=PacedClock())
    display = DisplayScene(policy.meta.robot, backend.model)
    if display.note:
        print(f"{PROG}: {display.note}", file=sys.stderr)
    teleop = Teleop(CommandBox.from_ranges(policy.meta.command_ranges), (args.step,) * 3)
    gamepad = None if args.no_gamepad else Gamepad.open()
    ranges = ", ".join(f"{k} [{lo:g}, {hi:g}]" for k, (lo, hi) in policy.meta.command_ranges.items())
    pad = f"; gamepad: {gamepad.name}" if gamepad else ""
    print(f"{policy.path} on {policy.provider}; {HELP}; trained ranges: {ranges}{pad}")
    try:
        viewer = mujoco.viewer.launch_passive(
            display.model, display.data, key_callback=teleop.press, show_left_ui=False, show_right_ui=False
        )
    except (RuntimeError, mujoco.FatalError) as err:  # e.g. macOS without mjpython
        return user_error(PROG, f"cannot open the viewer: {err}")
    with viewer:
        follow(viewer, display)
        player = Player(policy, backend, viewer, teleop, display, gamepad, args.push_mps)
        if not player.live.steerable:
            print(f"{PROG}: this policy observes no command: the keys only reset and push", file=sys.stderr)
        player.run()
    return 0


def missing_simulator() -> str | None:
    """The simulator module (mujoco and its viewer, the robot assets) this install lacks, or None."""
    try:
        import mujoco.viewer  # noqa: F401

        from mjx_walker.robots import asset_root

        asset_root()
    except ImportError as err:
        module = missing_sim_module(err)
        if module is None:
            raise
        return module
    return None


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: 0 when the viewer is closed; one line and exit 2 when play cannot start."""
    parser = build_parser()
    args = parser.parse_args(argv)
    module = missing_simulator()
    if module is not None:
        return sim_unavailable(parser.prog, module)
    try:
        policy = OnnxPolicy(resolve_policy(args.policy), verbose=False, spec=args.spec)
        problem = display_problem(os.environ, sys.platform) or glfw_problem()
        if problem:
            return user_error(parser.prog, problem)
        return play(policy, args)
    except (
        PolicyFileError,
        PolicyMismatchError,
        SpecError,
        BackendMismatchError,
        BackendUnavailableError,
        SafetyError,
    ) as err:
        return user_error(parser.prog, err)
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; the robot was left damped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
