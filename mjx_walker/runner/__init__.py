"""Deployment runner: ONNX policy + safety layer + control loop over a robot backend."""

from __future__ import annotations

from mjx_walker.runner.backend import Clock, RobotBackend, RobotState, SimClock, WallClock
from mjx_walker.runner.inference import OnnxPolicy, PolicyMismatchError
from mjx_walker.runner.loop import RunStats, Tick, run_loop
from mjx_walker.runner.mujoco_backend import MuJoCoBackend, SimShift
from mjx_walker.runner.safety import Mode, SafetyConfig, SafetyError, SafetyLayer
from mjx_walker.runner.session import RunResult, make_backend, run_policy

__all__ = [
    "Clock",
    "Mode",
    "MuJoCoBackend",
    "OnnxPolicy",
    "PolicyMismatchError",
    "RobotBackend",
    "RobotState",
    "RunResult",
    "RunStats",
    "SafetyConfig",
    "SafetyError",
    "SafetyLayer",
    "SimClock",
    "SimShift",
    "Tick",
    "WallClock",
    "make_backend",
    "run_loop",
    "run_policy",
]
