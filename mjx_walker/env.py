"""The joystick walking environment: pure, unbatched ``reset`` and ``step``.

:class:`WalkEnv` holds only static things resolved at build time (the physics backend, indices,
layouts, configs). ``reset(key)`` and ``step(state, action)`` are pure functions of their
arguments; callers vmap them. The randomized physics of an env lives in ``state.params`` and is
applied to the nominal model inside ``step``.

The physics runs on MJX (:mod:`mjx_walker.physics_mjx`, the GPU path) or MuJoCo C
(:mod:`mjx_walker.physics_c`, the CPU path), by ``SimConfig.backend``. Both return the same
:class:`~mjx_walker.state.Readout`, from which everything else here (observations, rewards,
terminations) is computed by one code path.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

from mjx_walker import curriculum, gait, lag, sensing
from mjx_walker.command import sample_command, sample_interval
from mjx_walker.configs import EnvConfig
from mjx_walker.model import RobotModel, build_robot_model
from mjx_walker.observation import (
    actor_layout,
    add_noise,
    base_linvel,
    build_actor_obs,
    build_critic_obs,
    critic_layout,
    measure,
)
from mjx_walker.physics_c import CPhysics
from mjx_walker.physics_mjx import MjxPhysics
from mjx_walker.randomization import sample_params
from mjx_walker.rewards import RewardInputs, reward_terms, total_reward
from mjx_walker.state import CData, EnvState, Observation, Readout, StepOutput


def physics_finite(qpos: jax.Array, qvel: jax.Array) -> jax.Array:
    """() bool: whether a physics state is finite (False: MJX blew up; the step resets the env)."""
    return jnp.all(jnp.isfinite(qpos)) & jnp.all(jnp.isfinite(qvel))


class WalkEnv:
    """Static description of the walking task; ``reset`` and ``step`` are pure."""

    def __init__(self, cfg: EnvConfig | None = None) -> None:
        """Build the robot model and the physics backend, and resolve everything static (no tracing here)."""
        self.cfg = cfg or EnvConfig()
        self.robot: RobotModel = build_robot_model(self.cfg.robot.name, self.cfg.sim, self.cfg.terrain)
        self.sim = CPhysics(self.robot) if self.cfg.sim.backend == "mujoco" else MjxPhysics(self.robot)
        self.actor_layout = actor_layout(self.robot.nu)
        self.critic_layout = critic_layout(self.robot.nu)
        robot = self.robot
        self.default_joint_pos = jnp.asarray(robot.default_joint_pos, jnp.float32)
        center = (robot.joint_lower + robot.joint_upper) / 2
        half = (robot.joint_upper - robot.joint_lower) / 2 * self.cfg.robot.soft_joint_limit_factor
        self.soft_lower = jnp.asarray(center - half, jnp.float32)
        self.soft_upper = jnp.asarray(center + half, jnp.float32)
        # Foot site heights at the standing keyframe (the swing height is measured from there).
        mj_data = mujoco.MjData(robot.mj_model)
        mj_data.qpos[:] = robot.default_qpos
        mujoco.mj_forward(robot.mj_model, mj_data)
        self.feet_site_z0 = jnp.asarray(mj_data.site_xpos[robot.foot_sites, 2], jnp.float32)

    @property
    def mjx_model(self):  # noqa: ANN201 - mjx.Model
        """The nominal MJX model (MJX backend only)."""
        return self.sim.mjx_model

    @property
    def action_size(self) -> int:
        """Number of actions (= actuated joints)."""
        return self.robot.nu

    @property
    def n_substeps(self) -> int:
        """Physics substeps per control step."""
        return self.cfg.sim.n_substeps

    @property
    def ctrl_dt(self) -> float:
        """Control period in seconds."""
        return self.cfg.sim.ctrl_dt

    # ------------------------------------------------------------------ reset
    def reset(self, key: jax.Array, level: jax.Array | None = None) -> tuple[EnvState, Observation]:
        """A fresh episode: new physics parameters, command, gait clock and perturbed pose.

        ``level``: () int32, the terrain curriculum level to start on (None: a first level, drawn).
        """
        cfg = self.cfg
        (
            key_params,
            key_cmd,
            key_resample,
            key_push,
            key_freq,
            key_yaw,
            key_qvel,
            key_joints,
            key_noise,
            key_state,
            key_level,
            key_tile,
        ) = jax.random.split(key, 12)
        params = sample_params(key_params, cfg.randomization, self.robot)

        yaw = jax.random.uniform(key_yaw, (), jnp.float32, -jnp.pi, jnp.pi)
        quat = jnp.array([jnp.cos(yaw / 2), 0.0, 0.0, jnp.sin(yaw / 2)], jnp.float32)
        level = curriculum.start_level(key_level, cfg.terrain) if level is None else level
        origin = curriculum.spawn_xy(key_tile, cfg.terrain, level)
        qpos = jnp.asarray(self.robot.default_qpos, jnp.float32).at[3:7].set(quat).at[0:2].add(origin)
        offset_range = cfg.randomization.start_joint_offset_rad
        offsets = jax.random.uniform(key_joints, (self.robot.nu,), jnp.float32, *offset_range)
        qpos = qpos.at[self.robot.qpos_adr].add(offsets)
        qvel = jnp.zeros(self.robot.mj_model.nv, jnp.float32)
        qvel = qvel.at[0:6].set(jax.random.uniform(key_qvel, (6,), jnp.float32, -0.2, 0.2))
        data, readout = self.sim.init(params, qpos, qvel)

        command = sample_command(key_cmd, cfg.command)
        state = EnvState(
            data=data,
            readout=readout,
            params=params,
            lag_buffer=lag.init_buffer(self.default_joint_pos, cfg.randomization.max_lag_substeps),
            command=command,
            gait_phase=jnp.asarray(gait.initial_phase()),
            gait_frequency=jax.random.uniform(key_freq, (), jnp.float32, *cfg.command.gait_frequency_hz),
            last_action=jnp.zeros(self.robot.nu, jnp.float32),
            feet_air_time=jnp.zeros(2, jnp.float32),
            last_contact=readout.feet_contact,
            steps=jnp.int32(0),
            steps_to_resample=sample_interval(key_resample, cfg.command.resample_interval_s, self.ctrl_dt),
            steps_to_push=sample_interval(key_push, cfg.push.interval_s, self.ctrl_dt),
            terrain_level=jnp.asarray(level, jnp.int32),
            origin_xy=origin,
            rng=key_state,
        )
        obs = self._observe(key_noise, state, data, readout, state.feet_air_time)
        return state, obs

    # ------------------------------------------------------------------- step
    def step(self, state: EnvState, action: jax.Array) -> tuple[EnvState, StepOutput]:
        """Advance one control step: push, PD with lag over the substeps, reward, termination."""
        cfg = self.cfg
        key_noise, key_cmd, key_resample, key_push_dir, key_push_mag, key_push_t, key_next = jax.random.split(
            state.rng, 7
        )
        action = jnp.nan_to_num(action.astype(jnp.float32))

        data = self._maybe_push(state, key_push_dir, key_push_mag)
        target = self.default_joint_pos + cfg.robot.action_scale * action
        buffer, applied = lag.schedule(state.lag_buffer, target, state.params.lag, self.n_substeps)
        data, readout, tau = self.sim.step(state.params, data, applied)

        # Feet: contact, air time, slip, height.
        contact = readout.feet_contact
        contact_filt = contact | state.last_contact
        first_contact = (state.feet_air_time > 0.0) & contact_filt
        air_time = state.feet_air_time + self.ctrl_dt
        feet_xy_before = state.readout.feet_pos[:, :2]
        slip_speed = jnp.linalg.norm(readout.feet_pos[:, :2] - feet_xy_before, axis=-1) / self.ctrl_dt
        feet_height = readout.feet_pos[:, 2] - self.feet_site_z0

        # Termination: fall (tilt or height) or a non-finite physics state.
        root_rot = readout.root_rot
        finite = physics_finite(data.qpos, data.qvel)
        min_height = cfg.command.min_height_fraction * self.robot.standing_height
        fell = sensing.fell(root_rot, data.qpos[2], cfg.command.max_tilt_rad, min_height)
        done = fell | ~finite

        inputs = RewardInputs(
            command=state.command,
            base_linvel=base_linvel(readout, data.qvel),
            base_angvel=data.qvel[3:6],
            gravity=root_rot.T @ jnp.array([0.0, 0.0, -1.0]),
            torques=tau,
            joint_pos=data.qpos[self.robot.qpos_adr],
            joint_vel=data.qvel[self.robot.dof_adr],
            default_joint_pos=self.default_joint_pos,
            pose_weights=jnp.asarray(self.robot.pose_weights, jnp.float32),
            soft_lower=self.soft_lower,
            soft_upper=self.soft_upper,
            action=action,
            last_action=state.last_action,
            feet_contact=contact,
            first_contact=first_contact,
            feet_air_time=air_time,
            feet_slip_speed=slip_speed,
            feet_height=feet_height,
            swing_target=gait.swing_height(state.gait_phase, cfg.reward.swing_height),
            fell=fell,
        )
        terms = reward_terms(inputs, cfg.reward, self.ctrl_dt)
        terms = {k: jnp.where(finite, jnp.nan_to_num(v), 0.0) for k, v in terms.items()}
        reward = total_reward(terms, cfg.reward)

        # Commands: re-sample when the interval runs out.
        resample = state.steps_to_resample <= 1
        command = jnp.where(resample, sample_command(key_cmd, cfg.command), state.command)
        steps_to_resample = jnp.where(
            resample,
            sample_interval(key_resample, cfg.command.resample_interval_s, self.ctrl_dt),
            state.steps_to_resample - 1,
        )
        pushed = state.steps_to_push <= 1
        steps_to_push = jnp.where(
            pushed,
            sample_interval(key_push_t, cfg.push.interval_s, self.ctrl_dt),
            state.steps_to_push - 1,
        )
        new_air_time = air_time * ~contact_filt
        new_state = EnvState(
            data=data,
            readout=readout,
            params=state.params,
            lag_buffer=buffer,
            command=command,
            gait_phase=gait.advance(state.gait_phase, state.gait_frequency, self.ctrl_dt),
            gait_frequency=state.gait_frequency,
            last_action=action,
            feet_air_time=new_air_time,
            last_contact=contact,
            steps=state.steps + 1,
            steps_to_resample=steps_to_resample,
            steps_to_push=steps_to_push,
            terrain_level=state.terrain_level,
            origin_xy=state.origin_xy,
            rng=key_next,
        )
        obs = self._observe(key_noise, new_state, data, readout, new_air_time)
        obs = jax.tree.map(lambda x: jnp.where(finite, jnp.nan_to_num(x), 0.0), obs)
        out = StepOutput(
            obs=obs,
            reward=reward.astype(jnp.float32),
            done=done.astype(jnp.float32),
            reward_terms=terms,
            applied_targets=applied,
            torques=tau,
            nonfinite=(~finite).astype(jnp.float32),
        )
        return new_state, out

    # ---------------------------------------------------------------- helpers
    def _maybe_push(self, state: EnvState, key_dir: jax.Array, key_mag: jax.Array) -> mjx.Data | CData:
        """The physics state with a horizontal velocity kick if a push is due this step."""
        data = state.data
        if not self.cfg.push.enabled:
            return data
        angle = jax.random.uniform(key_dir, (), jnp.float32, -jnp.pi, jnp.pi)
        magnitude = jax.random.uniform(key_mag, (), jnp.float32, *self.cfg.push.magnitude)
        kick = magnitude * jnp.array([jnp.cos(angle), jnp.sin(angle)])
        due = (state.steps_to_push <= 1).astype(jnp.float32)
        return data.replace(qvel=data.qvel.at[0:2].add(due * kick))

    def _observe(
        self,
        key: jax.Array,
        state: EnvState,
        data: mjx.Data | CData,
        readout: Readout,
        air_time: jax.Array,
    ) -> Observation:
        """Actor observations as the robot's sensors give them (IMU errors, noise); the critic's, true."""
        meas = measure(self.robot, data, readout)
        args = (state.last_action, state.command, state.gait_phase, self.default_joint_pos)
        clean = build_actor_obs(meas, *args)
        imu = sensing.imu_error(meas, state.params.gyro_bias, state.params.imu_tilt)
        noisy = build_actor_obs(add_noise(key, imu, self.cfg.noise), *args)
        critic = build_critic_obs(clean, data, readout, state.params, air_time, self.cfg.sim.sim_dt)
        return Observation(actor=noisy, critic=critic)
