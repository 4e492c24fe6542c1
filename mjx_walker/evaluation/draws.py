"""Per-episode random draws: physics, command, start perturbation, sensor-noise seed, push direction.

Episode ``i`` draws everything from ``np.random.default_rng([seed, i])`` in a fixed order, so it
gets the same draws in every condition and for every policy (paired comparisons along a sweep),
and pinning one parameter does not change the others' draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mjx_walker.evaluation.conditions import ENVELOPE_KEYS
from mjx_walker.model import RobotModel
from mjx_walker.onnx_meta import PolicyMeta

JOINT_OFFSET_RAD = 0.05  # start joint offsets ~ U(-a, a) * init_noise
BASE_VEL = 0.2  # start base linear (m/s) and angular (rad/s) velocity ~ U(-a, a) * init_noise


@dataclass(frozen=True)
class EpisodeDraw:
    """What one episode draws from the seed."""

    index: int
    physics: dict[str, float]  # ENVELOPE_KEYS -> value drawn from the envelope
    command: list[float]  # [vx m/s, vy m/s, yaw rad/s] drawn from the command ranges
    sim_seed: int  # the backend's sensor-noise stream
    joint_offsets: np.ndarray  # (nu,) rad added to the default joint positions
    base_vel: np.ndarray  # (6,) start qvel of the free joint: linear (world) m/s, angular (local) rad/s
    push_angle: float  # rad, direction of the horizontal push (world frame)


def sample_command(meta: PolicyMeta, rng: np.random.Generator) -> list[float]:
    """A command [vx, vy, yaw] uniform in the metadata's command ranges."""
    r = meta.command_ranges
    return [float(rng.uniform(*r[k])) for k in ("lin_vel_x", "lin_vel_y", "yaw_rate")]


def draw_episode(
    seed: int, index: int, envelope: Mapping[str, list[float]], meta: PolicyMeta, init_noise: float = 1.0
) -> EpisodeDraw:
    """Episode ``index``'s draws from ``seed``; start perturbations scaled by ``init_noise`` (0: none)."""
    rng = np.random.default_rng([seed, index])
    physics = {k: float(rng.uniform(*envelope[k])) for k in ENVELOPE_KEYS}
    command = sample_command(meta, rng)
    sim_seed = int(rng.integers(2**31))
    joint_offsets = init_noise * rng.uniform(-JOINT_OFFSET_RAD, JOINT_OFFSET_RAD, meta.nu)
    base_vel = init_noise * rng.uniform(-BASE_VEL, BASE_VEL, 6)
    push_angle = float(rng.uniform(-np.pi, np.pi))
    return EpisodeDraw(index, physics, command, sim_seed, joint_offsets, base_vel, push_angle)


def start_state(
    robot: RobotModel, joint_offsets: np.ndarray | None, base_vel: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The start (qpos (nq,), qvel (nv,)): standing keyframe plus joint offsets (within limits) and base velocity."""
    qpos = np.array(robot.default_qpos, float)
    qvel = np.zeros(robot.mj_model.nv)
    if joint_offsets is not None:
        joints = robot.default_joint_pos + np.asarray(joint_offsets, float)
        qpos[robot.qpos_adr] = np.clip(joints, robot.joint_lower, robot.joint_upper)
    if base_vel is not None:
        qvel[0:6] = base_vel
    return qpos, qvel
