"""Steering a running policy: keys and gamepad sticks to a velocity command within its trained ranges.

Pure NumPy, no viewer: :mod:`mjx_walker.play` feeds it the MuJoCo viewer's key presses (GLFW key
codes) and, when pygame finds a joystick, the sticks. The command is
``[vx m/s, vy m/s, yaw rate rad/s]`` in the base frame (x forward, y left, yaw counter-clockwise),
always clipped to the policy's trained command ranges.

Keys (each press is one step): up/W, down/S: vx +/-; left/A, right/D: vy +/- (left is +y);
Q/E: turn left/right (yaw +/-); space: stop (zero command, clipped into the ranges); R: reset;
P: push.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mjx_walker.runner.safety import COMMAND_KEYS

# GLFW key codes, as the MuJoCo viewer's key callback reports them (letters are their capitals' ASCII).
KEY_SPACE, KEY_RIGHT, KEY_LEFT, KEY_DOWN, KEY_UP = 32, 262, 263, 264, 265
KEY_W, KEY_A, KEY_S, KEY_D, KEY_Q, KEY_E, KEY_R, KEY_P = (ord(c) for c in "WASDQERP")

# key -> (command component 0 vx, 1 vy, 2 yaw; direction)
STEER_KEYS: dict[int, tuple[int, float]] = {
    KEY_UP: (0, 1.0),
    KEY_W: (0, 1.0),
    KEY_DOWN: (0, -1.0),
    KEY_S: (0, -1.0),
    KEY_LEFT: (1, 1.0),
    KEY_A: (1, 1.0),
    KEY_RIGHT: (1, -1.0),
    KEY_D: (1, -1.0),
    KEY_Q: (2, 1.0),
    KEY_E: (2, -1.0),
}
DEFAULT_STEP = (0.1, 0.1, 0.1)  # per key press: m/s, m/s, rad/s
HELP = "arrows/WASD: vx, vy   Q/E: turn   space: stop   R: reset   P: push"


@dataclass(frozen=True)
class CommandBox:
    """The policy's trained command ranges: low (3,) and high (3,) of [vx m/s, vy m/s, yaw rad/s]."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def from_ranges(cls, ranges: Mapping[str, Sequence[float]]) -> CommandBox:
        """From the metadata's ``command_ranges`` ({lin_vel_x, lin_vel_y, yaw_rate: [low, high]})."""
        low = np.array([float(ranges[key][0]) for key, _ in COMMAND_KEYS])
        high = np.array([float(ranges[key][1]) for key, _ in COMMAND_KEYS])
        return cls(low, high)

    def clip(self, command: Sequence[float] | np.ndarray) -> np.ndarray:
        """``command`` (3,) clipped into the box, float64."""
        return np.clip(np.asarray(command, float), self.low, self.high)

    def stop(self) -> np.ndarray:
        """The command nearest to standing still: zero, clipped into the box."""
        return self.clip(np.zeros(3))


def apply_key(
    command: np.ndarray, key: int, box: CommandBox, step: Sequence[float] = DEFAULT_STEP
) -> tuple[np.ndarray, str | None]:
    """The command (3,) after pressing ``key``, and the event it asks for ("reset", "push") or None.

    Steering keys move one component by its ``step`` (clipped into ``box``); space stops; R and P
    leave the command as it is; any other key changes nothing.
    """
    if key in STEER_KEYS:
        axis, sign = STEER_KEYS[key]
        moved = np.asarray(command, float).copy()
        moved[axis] += sign * float(step[axis])
        return box.clip(moved), None
    if key == KEY_SPACE:
        return box.stop(), None
    return np.asarray(command, float).copy(), {KEY_R: "reset", KEY_P: "push"}.get(key)


class Teleop:
    """The operator's live command and pending requests, shared between threads.

    ``press`` runs on the viewer's thread (its key callback); ``command``, ``take`` and
    ``set_command`` on the control loop's.
    """

    def __init__(self, box: CommandBox, step: Sequence[float] = DEFAULT_STEP) -> None:
        """Start at the stop command of ``box``; ``step`` (3,) per key press."""
        self.box, self.step = box, tuple(float(s) for s in step)
        self._command = box.stop()
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    def press(self, key: int) -> None:
        """A key press (GLFW key code): steer, stop, or request a reset or a push."""
        with self._lock:
            self._command, event = apply_key(self._command, key, self.box, self.step)
            if event:
                self._pending.add(event)

    def command(self) -> np.ndarray:
        """The current command (3,) [vx m/s, vy m/s, yaw rad/s], within the box."""
        with self._lock:
            return self._command.copy()

    def set_command(self, command: Sequence[float] | np.ndarray) -> None:
        """Replace the command (e.g. from a gamepad), clipped into the box."""
        with self._lock:
            self._command = self.box.clip(command)

    def take(self, event: str) -> bool:
        """Whether ``event`` ("reset", "push") was requested since the last take; clears it."""
        with self._lock:
            if event in self._pending:
                self._pending.discard(event)
                return True
            return False


def stick_to_command(sticks: Sequence[float], box: CommandBox, deadzone: float = 0.1) -> np.ndarray:
    """Command (3,) for sticks (3,) in [-1, 1]: [forward, left, turn left], each scaled into the box.

    A stick inside ``deadzone`` counts as centred; beyond it the deflection is rescaled to 0..1 and
    maps a push to ``high`` and a pull to ``low`` of its component (centred: the stop command).
    """
    s = np.clip(np.asarray(sticks, float), -1.0, 1.0)
    mag = np.clip((np.abs(s) - deadzone) / (1.0 - deadzone), 0.0, 1.0)
    value = np.where(s > 0, mag * box.high, np.where(s < 0, mag * box.low, 0.0))
    return box.clip(value)


class StickMapper:
    """Gamepad sticks to commands: they steer while deflected and stop the robot once when released.

    Between uses the keyboard keeps control (a centred stick does not hold the command at zero).
    """

    def __init__(self, box: CommandBox, deadzone: float = 0.1) -> None:
        """Map into ``box``; sticks within ``deadzone`` are centred."""
        self.box, self.deadzone = box, deadzone
        self._active = False

    def update(self, sticks: Sequence[float]) -> np.ndarray | None:
        """The command for sticks (3,) [forward, left, turn left], or None when the keyboard has control."""
        deflected = bool(np.any(np.abs(np.asarray(sticks, float)) > self.deadzone))
        if deflected:
            self._active = True
            return stick_to_command(sticks, self.box, self.deadzone)
        if self._active:
            self._active = False
            return self.box.stop()
        return None


class Gamepad:
    """A pygame joystick's sticks as [forward, left, turn left] in [-1, 1] (left stick, right stick x)."""

    def __init__(self, joystick: Any, pump: Callable[[], None]) -> None:
        """Wrap an initialised ``pygame.joystick.Joystick``; ``pump`` processes pygame's events."""
        self.joystick, self._pump = joystick, pump
        self.name = str(joystick.get_name())

    @classmethod
    def open(cls) -> Gamepad | None:
        """The first joystick pygame finds, or None (pygame missing, no joystick, no driver)."""
        try:
            import pygame

            pygame.joystick.init()
            if pygame.joystick.get_count() == 0:
                return None
            stick = pygame.joystick.Joystick(0)
            stick.init()
            return cls(stick, pygame.event.pump)
        except Exception:  # pygame absent or unable to talk to the device: no gamepad
            return None

    def sticks(self) -> np.ndarray:
        """(3,) [forward, left, turn left] in [-1, 1]: -left y, -left x, -right x (SDL axes 1, 0, 3 or 2)."""
        self._pump()
        js = self.joystick
        count = js.get_numaxes()
        axis = [float(js.get_axis(i)) for i in range(count)]
        turn = axis[3] if count > 3 else axis[2] if count > 2 else 0.0
        return -np.array([axis[1] if count > 1 else 0.0, axis[0] if count > 0 else 0.0, turn])


def command_slot(layout: Sequence[Mapping[str, Any]]) -> tuple[int, float] | None:
    """(start index, scale) of the ``command`` block in an observation layout, or None if it has none."""
    start = 0
    for block in layout:
        start = int(block.get("start", start))
        if block.get("name") == "command":
            return start, float(block.get("scale", 1.0))
        start += int(block["size"])
    return None


class LiveCommandPolicy:
    """A policy whose observation carries the operator's current command instead of the loop's fixed one.

    The control loop (:func:`mjx_walker.runner.loop.run_loop`) builds every observation with the
    command it was started with; this wrapper writes ``source()`` (3,) [vx m/s, vy m/s, yaw rad/s],
    times the layout's scale, into the observation's ``command`` block before each inference.
    """

    def __init__(
        self,
        policy: Callable[[np.ndarray], np.ndarray],
        layout: Sequence[Mapping[str, Any]],
        source: Callable[[], np.ndarray],
    ) -> None:
        """Wrap ``policy`` (obs (obs_dim,) -> action (nu,)) for observation ``layout`` (blocks with size)."""
        self.policy, self.source = policy, source
        self.provider = str(getattr(policy, "provider", ""))
        self.slot = command_slot(layout)

    @property
    def steerable(self) -> bool:
        """Whether the policy observes a command at all."""
        return self.slot is not None

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Action (nu,) for ``obs`` (obs_dim,) with the live command written in."""
        if self.slot is not None:
            start, scale = self.slot
            obs = np.array(obs, np.float32)
            obs[start : start + 3] = np.asarray(self.source(), np.float32) * scale
        return self.policy(obs)
