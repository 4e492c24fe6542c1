"""Domain randomization: sample a PhysicsParams per env, and apply it to the MJX model.

Both functions are pure and unbatched. ``sample_params`` runs inside the jitted reset, so every
episode (auto-resets during training included) gets fresh values; ``apply_params`` builds the
env's model from the nominal one on every step, so the parameters are ordinary traced arguments
that vmap batches, never attributes swapped on an object during tracing.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from mujoco import mjx

from mjx_walker.configs import RandomizationConfig, Range
from mjx_walker.model import RobotModel
from mjx_walker.physics_shift import shift_com, shift_friction, shift_joints, shift_masses
from mjx_walker.state import PhysicsParams


def _uniform(key: jax.Array, rng: Range, shape: tuple[int, ...] = ()) -> jax.Array:
    """Float32 samples in [low, high]; exactly ``low`` when the range has zero width."""
    lo, hi = (float(v) for v in rng)
    return jax.random.uniform(key, shape, jnp.float32, lo, hi) if hi > lo else jnp.full(shape, lo, jnp.float32)


def sample_params(key: jax.Array, cfg: RandomizationConfig, robot: RobotModel) -> PhysicsParams:
    """Draw one env's physics parameters from the configured ranges."""
    (
        key_friction,
        key_mass,
        key_payload,
        key_com,
        key_kp,
        key_kd,
        key_armature,
        key_damping,
        key_frictionloss,
        key_lag,
    ) = jax.random.split(key, 10)
    # folded in, not split: the other terms keep the draws they had before backlash was modelled
    key_backlash = jax.random.fold_in(key, 10)
    key_gyro_bias = jax.random.fold_in(key, 11)
    key_imu_tilt = jax.random.fold_in(key, 12)
    nbody, nu = robot.mj_model.nbody, robot.nu
    robot_bodies = np.arange(nbody) > 0  # the world body keeps its (zero) mass
    mass_scale = jnp.where(robot_bodies, _uniform(key_mass, cfg.mass_scale, (nbody,)), 1.0)
    lag_lo, lag_hi = cfg.lag_substeps
    return PhysicsParams(
        friction=_uniform(key_friction, cfg.friction),
        mass_scale=mass_scale.astype(jnp.float32),
        payload=_uniform(key_payload, cfg.payload_kg),
        com_offset=_uniform(key_com, cfg.com_offset_m, (3,)),
        kp_scale=_uniform(key_kp, cfg.kp_scale, (nu,)),
        kd_scale=_uniform(key_kd, cfg.kd_scale, (nu,)),
        armature_scale=_uniform(key_armature, cfg.armature_scale, (nu,)),
        damping_scale=_uniform(key_damping, cfg.damping_scale, (nu,)),
        frictionloss_scale=_uniform(key_frictionloss, cfg.frictionloss_scale, (nu,)),
        lag=jax.random.randint(key_lag, (), lag_lo, lag_hi + 1, jnp.int32),
        backlash=_uniform(key_backlash, cfg.backlash_rad, (nu,)),
        gyro_bias=_uniform(key_gyro_bias, cfg.gyro_bias, (3,)),
        imu_tilt=_uniform(key_imu_tilt, cfg.imu_tilt_rad, (2,)),
    )


def nominal_params(robot: RobotModel) -> PhysicsParams:
    """Parameters that reproduce the nominal model exactly (friction as in the scene)."""
    nbody, nu = robot.mj_model.nbody, robot.nu
    one = jnp.ones((nu,), jnp.float32)
    return PhysicsParams(
        friction=jnp.float32(robot.mj_model.geom_friction[robot.floor_geom, 0]),
        mass_scale=jnp.ones((nbody,), jnp.float32),
        payload=jnp.float32(0.0),
        com_offset=jnp.zeros((3,), jnp.float32),
        kp_scale=one,
        kd_scale=one,
        armature_scale=one,
        damping_scale=one,
        frictionloss_scale=one,
        lag=jnp.int32(0),
        backlash=jnp.zeros((nu,), jnp.float32),
        gyro_bias=jnp.zeros((3,), jnp.float32),
        imu_tilt=jnp.zeros((2,), jnp.float32),
    )


def apply_params(model: mjx.Model, robot: RobotModel, params: PhysicsParams) -> mjx.Model:
    """The nominal MJX model with one env's friction, masses, COM and joint properties."""
    m = robot.mj_model
    torso = robot.torso_body
    mass, inertia = shift_masses(
        jnp.asarray(m.body_mass), jnp.asarray(m.body_inertia), params.mass_scale, params.payload, torso
    )
    ipos = shift_com(jnp.asarray(m.body_ipos), torso, params.com_offset)
    geom_friction, pair_friction = shift_friction(
        jnp.asarray(m.geom_friction), jnp.asarray(m.pair_friction), robot.floor_geom, robot.floor_pairs, params.friction
    )
    armature, damping, frictionloss = shift_joints(
        jnp.asarray(m.dof_armature),
        jnp.asarray(m.dof_damping),
        jnp.asarray(m.dof_frictionloss),
        robot.dof_adr,
        params.armature_scale,
        params.damping_scale,
        params.frictionloss_scale,
    )
    return model.replace(
        body_mass=mass,
        body_inertia=inertia,
        body_ipos=ipos,
        geom_friction=geom_friction,
        pair_friction=pair_friction,
        dof_armature=armature,
        dof_damping=damping,
        dof_frictionloss=frictionloss,
    )
