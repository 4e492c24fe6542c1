"""Deployment runner: ONNX policy + safety layer + control loop over a robot backend.

Importing it needs numpy and onnxruntime only (no JAX, no onnx package); ``MuJoCoBackend`` and
``SimShift`` (the simulated robot) import mujoco when first used.
"""

from __future__ import annotations

from typing import Any

from mjx_walker.runner.backend import BackendError, Clock, RobotBackend, RobotState, SimClock, WallClock
from mjx_walker.runner.inference import OnnxPolicy, PolicyMismatchError
from mjx_walker.runner.loop import RunStats, Tick, run_loop
from mjx_walker.runner.safety import Mode, SafetyConfig, SafetyError, SafetyLayer
from mjx_walker.runner.session import RunResult, make_backend, run_policy
from mjx_walker.runner.signals import Terminated

__all__ = [
    "BackendError",
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
    "Terminated",
    "Tick",
    "WallClock",
    "make_backend",
    "run_loop",
    "run_policy",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401
    """Lazy ``MuJoCoBackend``/``SimShift``: mujoco is imported only for the simulated robot."""
    if name in ("MuJoCoBackend", "SimShift"):
        from mjx_walker.runner import mujoco_backend

        return getattr(mujoco_backend, name)
    raise AttributeError(f"module 'mjx_walker.runner' has no attribute {name!r}")
