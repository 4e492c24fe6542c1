"""Environment state: frozen flax.struct dataclasses with named, typed fields."""

from __future__ import annotations

import jax
from flax import struct
from mujoco import mjx

from mjx_walker.sensing import Measurement  # the robot's readings: part of the NumPy-only contract

__all__ = ["CData", "EnvState", "Measurement", "Observation", "PhysicsParams", "Readout"]


@struct.dataclass
class PhysicsParams:
    """Randomized physics of one env, re-sampled at every reset (see randomization.py)."""

    friction: jax.Array  # () foot-floor sliding friction coefficient
    mass_scale: jax.Array  # (nbody,) per-body mass multiplier (1 for the world body)
    payload: jax.Array  # () kg added to the torso
    com_offset: jax.Array  # (3,) m, torso centre-of-mass shift in the body frame
    kp_scale: jax.Array  # (nu,) stiffness multiplier
    kd_scale: jax.Array  # (nu,) damping-gain multiplier
    armature_scale: jax.Array  # (nu,)
    damping_scale: jax.Array  # (nu,) passive joint damping multiplier
    frictionloss_scale: jax.Array  # (nu,)
    lag: jax.Array  # () int32, PD target delay in physics substeps
    backlash: jax.Array  # (nu,) rad, half-width of each joint's dead band (mjx_walker.pd)
    gyro_bias: jax.Array  # (3,) rad/s added to the gyro reading (mjx_walker.sensing.imu_error)
    imu_tilt: jax.Array  # (2,) rad, roll and pitch of the IMU's mounting error


@struct.dataclass
class Readout:
    """What the task reads of the physics after a control step, the same from either physics backend.

    As MuJoCo's own step leaves them, these come from the last substep's forward pass (the state
    before its integration); the positions and velocities (``data.qpos``/``data.qvel``) come after it.
    """

    root_rot: jax.Array  # (3, 3) base orientation, base frame -> world
    imu_rot: jax.Array  # (3, 3) IMU site orientation, IMU frame -> world
    imu_angvel: jax.Array  # (3,) rad/s, angular velocity of the body carrying the IMU, world frame
    feet_pos: jax.Array  # (2, 3) m, foot sites (left, right), world frame
    feet_contact: jax.Array  # (2,) bool, any collision geom of the foot touches the floor


@struct.dataclass
class CData:
    """Physics state of one env on the MuJoCo C backend (``SimConfig.backend = "mujoco"``).

    Named as in ``mjx.Data`` so that code reading ``data.qpos``/``data.qvel`` serves both backends.
    """

    qpos: jax.Array  # (nq,) generalized positions (free joint: m, unit quaternion)
    qvel: jax.Array  # (nv,) generalized velocities (free joint: world-frame m/s, local rad/s)


@struct.dataclass
class Observation:
    """Actor (deployable) and critic (privileged) observation vectors."""

    actor: jax.Array  # (actor_dim,) float32, noisy, only what the robot measures
    critic: jax.Array  # (critic_dim,) float32, noise-free plus privileged state


@struct.dataclass
class EnvState:
    """Everything that evolves in one env between control steps."""

    data: mjx.Data | CData  # physics state (which one: SimConfig.backend)
    readout: Readout  # what the task reads of the physics at the last step (or reset)
    params: PhysicsParams  # this episode's randomized physics
    lag_buffer: jax.Array  # (max_lag + 1, nu) rad, commanded PD targets, newest first
    command: jax.Array  # (3,) vx m/s, vy m/s, yaw rate rad/s
    gait_phase: jax.Array  # (2,) rad in [-pi, pi), left and right foot clocks
    gait_frequency: jax.Array  # () Hz
    last_action: jax.Array  # (nu,) previous policy action
    feet_air_time: jax.Array  # (2,) s since each foot last touched the floor
    last_contact: jax.Array  # (2,) bool, foot contact at the previous step
    steps: jax.Array  # () int32, control steps since reset
    steps_to_resample: jax.Array  # () int32, control steps until the next command re-sample
    steps_to_push: jax.Array  # () int32, control steps until the next push
    terrain_level: jax.Array  # () int32, this env's curriculum level (mjx_walker.curriculum)
    origin_xy: jax.Array  # (2,) m, where this episode started
    rng: jax.Array  # PRNG key for in-episode randomness


@struct.dataclass
class StepOutput:
    """What a control step produces besides the next state."""

    obs: Observation
    reward: jax.Array  # () float32
    done: jax.Array  # () float32, 1.0 when the robot fell or the state went non-finite
    reward_terms: dict[str, jax.Array]  # name -> () weighted contribution to the reward
    applied_targets: jax.Array  # (n_substeps, nu) rad, PD targets applied at each substep
    torques: jax.Array  # (nu,) N·m, torque of the last substep
    nonfinite: jax.Array  # () float32, 1.0 when the physics went non-finite (obs, reward zeroed; done)
