"""Python API of the runner: load an ONNX policy, pick a backend, run the loop."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mjx_walker.cli import SIM_EXTRA, missing_sim_module
from mjx_walker.configs import SimConfig
from mjx_walker.onnx_meta import PolicyMeta
from mjx_walker.policy_paths import resolve_policy
from mjx_walker.runner.backend import Clock, RobotBackend, SimClock, WallClock
from mjx_walker.runner.inference import OnnxPolicy
from mjx_walker.runner.loop import RunStats, Tick, run_loop
from mjx_walker.runner.safety import SafetyConfig

if TYPE_CHECKING:  # the simulated backend needs mujoco; a hardware run does not import it
    from mjx_walker.runner.mujoco_backend import SimShift

BACKENDS = ("mujoco", "unitree_g1")


class BackendUnavailableError(RuntimeError):
    """The named backend cannot run in this install (e.g. the simulator on a robot-only install)."""


def sim_config(meta: PolicyMeta) -> SimConfig:
    """The SimConfig of the policy's training: timing and solver settings."""
    return SimConfig(
        ctrl_dt=meta.ctrl_dt,
        sim_dt=meta.sim_dt,
        iterations=meta.solver_iterations,
        ls_iterations=meta.solver_ls_iterations,
    )


def make_backend(
    name: str, meta: PolicyMeta, realtime: bool = False, shift: SimShift | None = None, clock: Clock | None = None
) -> RobotBackend:
    """A backend by name for the policy's robot; hardware backends register here.

    ``clock`` replaces the simulated robot's default clock (the wall clock if ``realtime``, else simulated time).
    """
    if name == "mujoco":
        clock = clock or (WallClock() if realtime else SimClock())
        try:
            from mjx_walker.runner.mujoco_backend import MuJoCoBackend

            return MuJoCoBackend(meta.robot, shift=shift, clock=clock, sim=sim_config(meta))
        except ImportError as err:  # a robot-only install: numpy and onnxruntime
            module = missing_sim_module(err)
            why = f"no module {module!r}" if module else (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise BackendUnavailableError(
                f"backend 'mujoco' (the simulated robot) needs the mujoco package and the robot assets, "
                f"which this install lacks ({why}): {SIM_EXTRA}, or run a hardware backend"
            ) from err
    if name in BACKENDS:
        raise ValueError(f"backend {name!r} is hardware: it needs its network (make_hardware_backend)")
    raise ValueError(f"unknown backend {name!r}; available: {list(BACKENDS)} (or pass a RobotBackend instance)")


def make_hardware_backend(name: str, meta: PolicyMeta, domain_id: int, interface: str, real: bool) -> RobotBackend:
    """A robot on its own network: ``unitree_g1`` (DDS ``domain_id`` on ``interface``; domain 0 only if ``real``)."""
    if name != "unitree_g1":
        raise ValueError(f"unknown hardware backend {name!r}; available: ['unitree_g1']")
    try:
        from mjx_walker.runner.unitree.g1_backend import UnitreeG1Backend
    except ImportError as err:
        raise BackendUnavailableError(
            f"backend 'unitree_g1' needs cyclonedds, which this install lacks ({err}): pip install -e '.[unitree]'"
        ) from err
    return UnitreeG1Backend(meta.joint_names, domain_id, interface, real=real, robot=meta.robot)


@dataclass
class RunResult:
    """A finished run: the policy's metadata, its backend and the loop's stats."""

    meta: PolicyMeta
    backend: RobotBackend
    stats: RunStats


def run_policy(
    policy_path: str | os.PathLike | OnnxPolicy,
    backend: str | RobotBackend = "mujoco",
    command: tuple[float, float, float] = (0.0, 0.0, 0.0),
    duration: float = 10.0,
    realtime: bool = False,
    shift: SimShift | None = None,
    safety: SafetyConfig | None = None,
    observer: Callable[[Tick], bool | None] | None = None,
    verbose: bool = True,
    spec: str | os.PathLike | None = None,
) -> RunResult:
    """Run a policy for ``duration`` s with ``command`` [vx m/s, vy m/s, yaw rad/s].

    ``policy_path``: the ONNX file, a policy or run directory holding it, or a loaded policy.
    ``spec``: the policy spec of an ONNX policy trained elsewhere (:mod:`mjx_walker.policy_spec`).
    """
    if isinstance(policy_path, OnnxPolicy):
        policy = policy_path
    else:
        policy = OnnxPolicy(resolve_policy(policy_path), verbose=verbose, spec=spec)
    meta = policy.meta
    be = backend if isinstance(backend, RobotBackend) else make_backend(backend, meta, realtime, shift)
    stats = run_loop(be, policy, meta, np.asarray(command, np.float32), duration, safety, observer, policy.provider)
    return RunResult(meta, be, stats)
