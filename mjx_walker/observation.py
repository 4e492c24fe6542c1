"""Observations: the layout (names and slices, resolved at build time) and the one builder.

``build_actor_obs`` is the environment's actor observation: :func:`mjx_walker.obs_terms.build_obs`
(the one builder, NumPy or JAX) over :data:`mjx_walker.obs_terms.ACTOR_TERMS`, so the
environment, the ONNX export checks and the on-robot runner all build it with the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from mujoco import mjx

from mjx_walker.configs import NoiseConfig
from mjx_walker.model import RobotModel
from mjx_walker.obs_terms import ACTOR_TERMS, build_obs, term_size
from mjx_walker.sensing import imu_reading
from mjx_walker.state import CData, Measurement, PhysicsParams, Readout


@dataclass(frozen=True)
class ObsLayout:
    """Ordered named blocks of an observation vector."""

    blocks: tuple[tuple[str, int], ...]

    @property
    def size(self) -> int:
        """Total length of the vector."""
        return sum(n for _, n in self.blocks)

    @property
    def slices(self) -> dict[str, slice]:
        """Name -> slice of the vector holding that block."""
        out, start = {}, 0
        for name, n in self.blocks:
            out[name] = slice(start, start + n)
            start += n
        return out

    def to_json(self) -> list[dict[str, int | str]]:
        """Layout as a JSON list of {name, start, size} (for ONNX metadata and reports)."""
        return [{"name": k, "start": s.start, "size": s.stop - s.start} for k, s in self.slices.items()]


def actor_layout(nu: int) -> ObsLayout:
    """Actor observation: what a real humanoid measures, plus command and gait clock (:data:`ACTOR_TERMS`)."""
    return ObsLayout(tuple((name, term_size(name, nu)) for name in ACTOR_TERMS))


def critic_layout(nu: int) -> ObsLayout:
    """Critic observation: the noise-free actor observation plus privileged state."""
    return ObsLayout(
        actor_layout(nu).blocks
        + (
            ("base_linvel", 3),  # m/s, base frame
            ("base_height", 1),  # m
            ("feet_contact", 2),
            ("feet_air_time", 2),  # s
            ("friction", 1),
            ("payload", 1),  # kg
            ("com_offset", 3),  # m
            ("kp_scale", nu),
            ("lag", 1),  # s
        )
    )


def build_actor_obs(meas: Measurement, last_action, command, gait_phase, default_joint_pos):  # noqa: ANN001, ANN201
    """Actor observation (actor_dim,) from measurements, last action (nu,), command (3,) and phase (2,) rad."""
    readings = {
        "gyro": meas.gyro,
        "gravity": meas.gravity,
        "joint_pos": meas.joint_pos,
        "joint_vel": meas.joint_vel,
        "default_joint_pos": default_joint_pos,
        "last_action": last_action,
        "command": command,
        "gait_phase": gait_phase,
    }
    return build_obs(ACTOR_TERMS, readings)


def measure(robot: RobotModel, data: mjx.Data | CData, readout: Readout) -> Measurement:
    """Noise-free IMU and encoder readings from the physics state and its readout."""
    gyro, gravity = imu_reading(readout.imu_rot, readout.imu_angvel)
    return Measurement(
        gyro=gyro,
        gravity=gravity,
        joint_pos=data.qpos[robot.qpos_adr],
        joint_vel=data.qvel[robot.dof_adr],
    )


def add_noise(key: jax.Array, meas: Measurement, cfg: NoiseConfig) -> Measurement:
    """Measurements plus uniform noise of +- level * scale on every reading."""
    key_gyro, key_gravity, key_pos, key_vel = jax.random.split(key, 4)

    def noisy(k: jax.Array, x: jax.Array, scale: float) -> jax.Array:
        """X plus uniform noise in [-level*scale, level*scale]."""
        amp = cfg.level * scale
        return x + amp * jax.random.uniform(k, x.shape, jnp.float32, -1.0, 1.0) if amp > 0 else x

    return Measurement(
        gyro=noisy(key_gyro, meas.gyro, cfg.gyro),
        gravity=noisy(key_gravity, meas.gravity, cfg.gravity),
        joint_pos=noisy(key_pos, meas.joint_pos, cfg.joint_pos),
        joint_vel=noisy(key_vel, meas.joint_vel, cfg.joint_vel),
    )


def base_linvel(readout: Readout, qvel: jax.Array) -> jax.Array:
    """Base linear velocity (3,) m/s in the base frame (free joint qvel[0:3] (nv,) is world-frame)."""
    return readout.root_rot.T @ qvel[0:3]


def build_critic_obs(
    actor_clean: jax.Array,
    data: mjx.Data | CData,
    readout: Readout,
    params: PhysicsParams,
    feet_air_time: jax.Array,
    sim_dt: float,
) -> jax.Array:
    """Critic observation (critic_dim,): noise-free actor obs plus privileged state."""
    return jnp.concatenate(
        [
            actor_clean,
            base_linvel(readout, data.qvel),
            data.qpos[2:3],
            readout.feet_contact.astype(jnp.float32),
            feet_air_time,
            params.friction[None],
            params.payload[None],
            params.com_offset,
            params.kp_scale,
            (params.lag.astype(jnp.float32) * sim_dt)[None],
        ]
    ).astype(jnp.float32)
