"""Reward terms as small pure functions; the scale of each comes from RewardConfig.

Each term returns an unscaled () value. ``reward_terms`` returns every term's weighted
contribution ``scale * term * ctrl_dt`` (logged as ``reward/<name>``); the reward is their sum.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from mjx_walker.configs import RewardConfig

MOVING = 0.1  # command norm above which the robot is asked to move


@struct.dataclass
class RewardInputs:
    """Quantities the reward terms read, computed once per control step."""

    command: jax.Array  # (3,) vx, vy m/s, yaw rate rad/s
    base_linvel: jax.Array  # (3,) m/s, base frame
    base_angvel: jax.Array  # (3,) rad/s, base frame
    gravity: jax.Array  # (3,) unit gravity direction, base frame
    torques: jax.Array  # (nu,) N·m
    joint_pos: jax.Array  # (nu,) rad
    joint_vel: jax.Array  # (nu,) rad/s
    default_joint_pos: jax.Array  # (nu,) rad
    pose_weights: jax.Array  # (nu,) per-joint weight of the pose cost
    soft_lower: jax.Array  # (nu,) rad
    soft_upper: jax.Array  # (nu,) rad
    action: jax.Array  # (nu,)
    last_action: jax.Array  # (nu,)
    feet_contact: jax.Array  # (2,) bool
    first_contact: jax.Array  # (2,) bool, touched down this step
    feet_air_time: jax.Array  # (2,) s, air time that just ended (valid where first_contact)
    feet_slip_speed: jax.Array  # (2,) m/s, horizontal foot speed
    feet_height: jax.Array  # (2,) m above the floor
    swing_target: jax.Array  # (2,) m, gait-clock foot height target
    fell: jax.Array  # () bool


def _moving(command: jax.Array) -> jax.Array:
    """1.0 when the command asks for motion, else 0.0."""
    return (jnp.linalg.norm(command) > MOVING).astype(jnp.float32)


def tracking_lin_vel(command: jax.Array, linvel: jax.Array, sigma: float) -> jax.Array:
    """exp(-|v_xy - cmd_xy|^2 / sigma), 1 at perfect tracking."""
    return jnp.exp(-jnp.sum(jnp.square(command[:2] - linvel[:2])) / sigma)


def tracking_ang_vel(command: jax.Array, angvel: jax.Array, sigma: float) -> jax.Array:
    """exp(-(yaw_rate - cmd_yaw)^2 / sigma)."""
    return jnp.exp(-jnp.square(command[2] - angvel[2]) / sigma)


def lin_vel_z(linvel: jax.Array) -> jax.Array:
    """Vertical base speed squared (m/s)^2."""
    return jnp.square(linvel[2])


def ang_vel_xy(angvel: jax.Array) -> jax.Array:
    """Roll and pitch rate squared (rad/s)^2."""
    return jnp.sum(jnp.square(angvel[:2]))


def orientation(gravity: jax.Array) -> jax.Array:
    """Squared horizontal part of the gravity direction: 0 when upright."""
    return jnp.sum(jnp.square(gravity[:2]))


def torques(tau: jax.Array) -> jax.Array:
    """Sum of squared joint torques (N·m)^2."""
    return jnp.sum(jnp.square(tau))


def energy(tau: jax.Array, qvel: jax.Array) -> jax.Array:
    """Mechanical power magnitude sum |tau * qd| in W."""
    return jnp.sum(jnp.abs(tau * qvel))


def action_rate(action: jax.Array, last_action: jax.Array) -> jax.Array:
    """Squared change of the action since the last step."""
    return jnp.sum(jnp.square(action - last_action))


def feet_air_time(air_time: jax.Array, first_contact: jax.Array, target: float, command: jax.Array) -> jax.Array:
    """Sum over touchdowns of (air time - target) s, capped at 0.3 s per step; only while moving."""
    gain = jnp.clip(air_time - target, None, 0.3)
    return jnp.sum(gain * first_contact) * _moving(command)


def feet_slip(contact: jax.Array, slip_speed: jax.Array) -> jax.Array:
    """Squared horizontal speed (m/s)^2 of feet that are on the floor."""
    return jnp.sum(jnp.square(slip_speed) * contact)


def feet_phase(height: jax.Array, target: jax.Array, command: jax.Array, step_in_place: bool) -> jax.Array:
    """exp(-|foot height - clock target|^2 / 0.01): 1 when feet follow the gait clock.

    Without ``step_in_place`` the target is the floor (feet down) while the command is zero.
    """
    if not step_in_place:
        target = target * _moving(command)
    return jnp.exp(-jnp.sum(jnp.square(height - target)) / 0.01)


def joint_limits(q: jax.Array, lower: jax.Array, upper: jax.Array) -> jax.Array:
    """Total rad by which joints exceed their soft limits."""
    return jnp.sum(jnp.clip(lower - q, 0.0, None) + jnp.clip(q - upper, 0.0, None))


def pose(q: jax.Array, default: jax.Array, weights: jax.Array) -> jax.Array:
    """Weighted squared deviation rad^2 from the default pose."""
    return jnp.sum(jnp.square(q - default) * weights)


def stand_still(q: jax.Array, default: jax.Array, command: jax.Array) -> jax.Array:
    """Deviation from the default pose (rad) while the command is zero."""
    return jnp.sum(jnp.abs(q - default)) * (1.0 - _moving(command))


def reward_terms(x: RewardInputs, cfg: RewardConfig, ctrl_dt: float) -> dict[str, jax.Array]:
    """Weighted contribution ``scale * term * ctrl_dt`` of every term, by name."""
    raw = {
        "tracking_lin_vel": tracking_lin_vel(x.command, x.base_linvel, cfg.tracking_sigma),
        "tracking_ang_vel": tracking_ang_vel(x.command, x.base_angvel, cfg.tracking_sigma),
        "lin_vel_z": lin_vel_z(x.base_linvel),
        "ang_vel_xy": ang_vel_xy(x.base_angvel),
        "orientation": orientation(x.gravity),
        "torques": torques(x.torques),
        "energy": energy(x.torques, x.joint_vel),
        "action_rate": action_rate(x.action, x.last_action),
        "feet_air_time": feet_air_time(x.feet_air_time, x.first_contact, cfg.air_time_target, x.command),
        "feet_slip": feet_slip(x.feet_contact, x.feet_slip_speed),
        "feet_phase": feet_phase(x.feet_height, x.swing_target, x.command, cfg.step_in_place),
        "joint_limits": joint_limits(x.joint_pos, x.soft_lower, x.soft_upper),
        "pose": pose(x.joint_pos, x.default_joint_pos, x.pose_weights),
        "stand_still": stand_still(x.joint_pos, x.default_joint_pos, x.command),
        "alive": jnp.float32(1.0),
        "termination": x.fell.astype(jnp.float32),
    }
    assert set(raw) == set(cfg.term_names), set(raw) ^ set(cfg.term_names)
    return {name: (cfg.scales[name] * ctrl_dt * raw[name]).astype(jnp.float32) for name in cfg.term_names}


def total_reward(terms: dict[str, jax.Array], cfg: RewardConfig) -> jax.Array:
    """Sum of the weighted terms, clipped at zero from below if configured."""
    total = sum(terms.values())
    return jnp.maximum(total, 0.0) if cfg.clip_total_at_zero else total
