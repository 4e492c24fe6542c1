"""A simulated robot: MuJoCo C physics behind the :class:`RobotBackend` interface.

Physics runs lazily: every ``read_state``/``write_targets``/``damp`` first integrates
``sim_dt`` substeps until the simulation time catches up with the backend's clock. Each substep
pushes the commanded (target, kp, kd) into a NumPy lag buffer, applies the command ``lag``
substeps old through :func:`mjx_walker.pd.pd_torque` (gains times kp_scale / kd_scale: an
actuator mismatch; ``backlash_rad``: gear play), writes the torque to ``data.ctrl`` and calls ``mj_step`` — the same
sequence as :meth:`mjx_walker.env.WalkEnv.physics`.

Sensors are read exactly as :func:`mjx_walker.observation.measure` reads MJX data after a step
(IMU from ``site_xmat`` and ``cvel``), with the IMU's bias and mounting tilt
(:func:`mjx_walker.sensing.imu_error`) and optional uniform noise like training's.

The optional hooks of a robot are simulated too: ``heartbeat`` feeds the drives' command timeout
(``drive_timeout_s``: without a heartbeat for that long the simulated drives go to kp = 0 on their
own, as real drives do), ``estop`` reports ``estop_pressed`` (pressed, the drives also go to kp = 0)
and ``base_height_fraction`` is the root height over the standing height. The interface methods
hold a lock, so the runner's watchdog may call ``damp`` from its thread.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field

import mujoco
import numpy as np

from mjx_walker import lag, sensing
from mjx_walker.configs import SimConfig
from mjx_walker.model import RobotModel, build_robot_model
from mjx_walker.pd import pd_torque
from mjx_walker.physics_shift import shift_friction, shift_masses
from mjx_walker.runner.backend import Clock, RobotBackend, RobotState, SimClock

_NOISE_KEYS = ("gyro", "gravity", "joint_pos", "joint_vel")


@dataclass(frozen=True)
class SimShift:
    """How the simulated robot differs from the nominal model (defaults: nominal, noise-free)."""

    friction: float | None = None  # foot-floor sliding friction; None keeps the scene's
    mass_scale: float = 1.0  # multiplier of every link's mass and inertia
    payload_kg: float = 0.0  # mass added at the torso COM
    kp_scale: float = 1.0  # actuator stiffness mismatch
    kd_scale: float = 1.0  # actuator damping mismatch
    lag_substeps: int = 0  # command delay in physics substeps (sim_dt each)
    backlash_rad: float = 0.0  # every joint's gear play, the PD dead band's half-width (mjx_walker.pd)
    gyro_bias: tuple[float, float, float] = (0.0, 0.0, 0.0)  # rad/s added to the gyro (mjx_walker.sensing)
    imu_tilt_rad: tuple[float, float] = (0.0, 0.0)  # roll, pitch of the IMU's mounting error
    noise: dict[str, float] = field(default_factory=dict)  # {gyro, gravity, joint_pos, joint_vel, level}
    seed: int = 0


def shifted_model(robot: RobotModel, shift: SimShift) -> mujoco.MjModel:
    """A copy of the robot's MjModel with friction, masses and payload shifted."""
    m = copy.deepcopy(robot.mj_model)
    # the same functions as training's randomization (mjx_walker.randomization.apply_params)
    m.body_mass[:], m.body_inertia[:] = shift_masses(
        m.body_mass, m.body_inertia, shift.mass_scale, shift.payload_kg, robot.torso_body
    )
    if shift.friction is not None:
        m.geom_friction[:], m.pair_friction[:] = shift_friction(
            m.geom_friction, m.pair_friction, robot.floor_geom, robot.floor_pairs, shift.friction
        )
    return m


class MuJoCoBackend(RobotBackend):
    """MuJoCo C simulation of the robot with lag, sensor noise and shifted physics."""

    ground_truth = frozenset({"base_linvel"})

    def __init__(
        self,
        robot: RobotModel | str,
        shift: SimShift | None = None,
        clock: Clock | None = None,
        sim: SimConfig | None = None,
        qpos: np.ndarray | None = None,
        qvel: np.ndarray | None = None,
        drive_timeout_s: float | None = None,
    ) -> None:
        """Build the simulation at the standing keyframe (or ``qpos`` (nq,), ``qvel`` (nv,)) on ``clock``.

        ``drive_timeout_s``: the simulated drives' command timeout in s (None: they have none).
        """
        self._lock = threading.RLock()
        self.drive_timeout_s = drive_timeout_s
        self.estop_pressed = False  # the simulated e-stop input
        self.heartbeats = 0
        self.robot = robot if isinstance(robot, RobotModel) else build_robot_model(robot, sim)
        self.shift = shift or SimShift()
        self.clock = clock or SimClock()
        self.model = shifted_model(self.robot, self.shift)
        self.data = mujoco.MjData(self.model)
        self.sim_dt = float(self.model.opt.timestep)
        self._rng = np.random.default_rng(self.shift.seed)
        self._imu_body = int(self.model.site_bodyid[self.robot.imu_site])
        self.reset(qpos, qvel)
        self._heartbeat_at = self.clock.now()  # clock s of the last heartbeat (or of construction)

    def reset(self, qpos: np.ndarray | None = None, qvel: np.ndarray | None = None) -> None:
        """Start over now: the standing keyframe (or ``qpos`` (nq,), ``qvel`` (nv,)), an empty lag buffer.

        The model and data stay the same objects (a viewer holding them keeps working).
        """
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = self.robot.default_qpos if qpos is None else qpos
        if qvel is not None:
            self.data.qvel[:] = qvel
        mujoco.mj_forward(self.model, self.data)
        self._t0 = self.clock.now()
        # Command history (mjx_walker.lag, as in training), newest first: targets, kp, kd (lag + 1, nu).
        n = self.shift.lag_substeps
        self._targets = lag.init_buffer(np.asarray(self.robot.default_joint_pos, float), n)
        self._kp = lag.init_buffer(np.asarray(self.robot.kp, float), n)
        self._kd = lag.init_buffer(np.asarray(self.robot.kd, float), n)
        self._cmd = (self.robot.default_joint_pos.copy(), self._kp[0].copy(), self._kd[0].copy())
        self.substeps = 0

    # -------------------------------------------------------------- interface
    def read_state(self) -> RobotState:
        """Encoders and IMU after catching physics up with the clock (noisy if configured)."""
        with self._lock:
            self._sync()
            return self._reading()

    def _reading(self) -> RobotState:
        """The sensors now (noisy if configured)."""
        d, r = self.data, self.robot
        gyro, gravity = sensing.imu_reading(d.site_xmat[r.imu_site].reshape(3, 3), d.cvel[self._imu_body, :3])
        true = sensing.Measurement(gyro, gravity, d.qpos[r.qpos_adr].copy(), d.qvel[r.dof_adr].copy())
        meas = sensing.imu_error(true, np.asarray(self.shift.gyro_bias, float), np.asarray(self.shift.imu_tilt_rad))
        readings = meas._asdict()
        level = float(self.shift.noise.get("level", 1.0))
        for key in _NOISE_KEYS:
            amp = level * float(self.shift.noise.get(key, 0.0))
            if amp > 0:
                readings[key] = readings[key] + self._rng.uniform(-amp, amp, readings[key].shape)
        return RobotState(timestamp=self._t0 + d.time, base_linvel=self.imu_linvel(), **readings)

    def write_targets(self, targets: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> None:
        """Command targets (nu,) rad with gains; applied from the next substep (after lag)."""
        with self._lock:
            self._sync()
            self._cmd = (np.asarray(targets, float).copy(), np.asarray(kp, float), np.asarray(kd, float))

    def damp(self, kd: np.ndarray) -> None:
        """Damping mode: kp = 0, damping kd (nu,)."""
        with self._lock:
            self._sync()
            self._cmd = (self.data.qpos[self.robot.qpos_adr].copy(), np.zeros(self.robot.nu), np.asarray(kd, float))

    def heartbeat(self) -> None:
        """Feed the simulated drives' command timeout."""
        with self._lock:
            self._sync()
            self._heartbeat_at = self.clock.now()
            self.heartbeats += 1

    def estop(self) -> bool:
        """Whether the simulated e-stop input is pressed (``estop_pressed``)."""
        return bool(self.estop_pressed)

    def base_height_fraction(self) -> float:
        """Root height over its height in the standing keyframe."""
        with self._lock:
            self._sync()
            return self.base_height() / self.robot.standing_height

    def drives_off(self) -> bool:
        """Whether the simulated drives hold kp = 0 on their own: e-stop pressed, or their command timed out."""
        if self.estop_pressed:
            return True
        timeout = self.drive_timeout_s
        return timeout is not None and self._t0 + self.data.time - self._heartbeat_at > timeout

    # ------------------------------------------------------------- physics
    def _sync(self) -> None:
        """Integrate substeps until simulated time reaches the clock's time."""
        horizon = self.clock.now() - self._t0
        while self.data.time + 0.5 * self.sim_dt <= horizon:
            self._substep()

    def _substep(self) -> None:
        """One physics step with the lagged PD command."""
        target, kp, kd = self._cmd
        self._targets = lag.push(self._targets, target)
        self._kp = lag.push(self._kp, kp)
        self._kd = lag.push(self._kd, kd)
        delay, r, d = self.shift.lag_substeps, self.robot, self.data
        kp_scale = 0.0 if self.drives_off() else self.shift.kp_scale  # the drives act at once, past the lag
        tau = pd_torque(
            d.qpos[r.qpos_adr],
            d.qvel[r.dof_adr],
            lag.read(self._targets, delay),
            lag.read(self._kp, delay) * kp_scale,
            lag.read(self._kd, delay) * self.shift.kd_scale,
            r.torque_limit,
            self.shift.backlash_rad,
        )
        d.ctrl[:] = tau
        mujoco.mj_step(self.model, d)
        self.substeps += 1

    # ------------------------------------------------- ground truth (sim only)
    def kick(self, velocity_xy: np.ndarray) -> None:
        """A push: add ``velocity_xy`` (2,) m/s, world frame, to the base (as training's pushes do)."""
        with self._lock:
            self._sync()
            self.data.qvel[0:2] += np.asarray(velocity_xy, float)

    def base_linvel(self) -> np.ndarray:
        """Base linear velocity (3,) m/s in the base frame (as the training reward sees it)."""
        rot = self.data.xmat[self.robot.root_body].reshape(3, 3)
        return rot.T @ self.data.qvel[0:3]

    def imu_linvel(self) -> np.ndarray:
        """Linear velocity (3,) m/s of the IMU site in its own frame (a velocimeter at the IMU)."""
        vel = np.zeros(6)  # [angular, linear]
        mujoco.mj_objectVelocity(self.model, self.data, mujoco.mjtObj.mjOBJ_SITE, self.robot.imu_site, vel, 1)
        return vel[3:]

    def base_yaw_rate(self) -> float:
        """Base yaw rate rad/s (free-joint angular velocity, local frame, z)."""
        return float(self.data.qvel[5])

    def base_height(self) -> float:
        """Root height in m."""
        return float(self.data.qpos[2])

    def tilt(self) -> float:
        """Angle in rad between the base's z axis and the world's."""
        up_z = float(self.data.xmat[self.robot.root_body].reshape(3, 3)[2, 2])
        return float(np.arccos(np.clip(up_z, -1.0, 1.0)))

    def fallen(self, min_height_fraction: float, max_tilt_rad: float) -> bool:
        """Training's termination test: too low, too tilted, or a non-finite state."""
        finite = bool(np.all(np.isfinite(self.data.qpos)) and np.all(np.isfinite(self.data.qvel)))
        root_rot = self.data.xmat[self.robot.root_body].reshape(3, 3)
        min_height = min_height_fraction * self.robot.standing_height
        return (not finite) or bool(sensing.fell(root_rot, self.base_height(), max_tilt_rad, min_height))
