"""MuJoCo C physics (``SimConfig.backend = "mujoco"``): the CPU path, called from the jitted env.

Everything but the physics stays in the compiled graph: randomization is drawn in-graph at every
reset, lag is resolved into one PD target per substep (exact for whole substeps), pushes edit
``qvel``, and observations, rewards and terminations are the same code as on MJX. Only the
substeps run in C: ``jax.pure_callback`` hands the batch to :class:`mjx_walker.c_pool.CPool`,
which steps each env's own MjModel with ``mujoco.rollout`` on the CPU's cores.

On a 2-core CPU this runs several times faster than MJX (``experiments/benchmark_training.py``);
MJX stays the path for GPUs. A callback cannot run on a GPU, and gradients do not flow through it
(PPO needs none).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mjx_walker import pd
from mjx_walker.c_pool import PARAM_FIELDS, CPool, build_servo_model, cores
from mjx_walker.model import RobotModel
from mjx_walker.state import CData, PhysicsParams, Readout


def quat_to_mat(quat: jax.Array) -> jax.Array:
    """Rotation matrix (3, 3) of a unit quaternion (4,) (w, x, y, z)."""
    w, x, y, z = quat[0], quat[1], quat[2], quat[3]
    return jnp.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _batched(fn, n_in: int):  # noqa: ANN001, ANN202
    """Host function over flat (n, ...) batches -> one over any leading batch dims, float32 out.

    ``jax.pure_callback(vmap_method="broadcast_all")`` passes every vmapped axis as a leading
    dimension (none when called unbatched); the first argument's trailing size fixes the split.
    """

    def call(*args: np.ndarray) -> tuple[np.ndarray, ...]:
        """Flatten the leading dims, call ``fn``, restore them."""
        lead = args[0].shape[: args[0].ndim - n_in]
        flat = [np.asarray(a, np.float64).reshape((-1,) + a.shape[len(lead) :]) for a in args]
        out = fn(*flat)
        return tuple(np.asarray(o, np.float32).reshape(lead + o.shape[1:]) for o in out)

    return call


class CPhysics:
    """The robot on MuJoCo C behind the same ``init``/``step`` as :class:`~mjx_walker.physics_mjx.MjxPhysics`."""

    def __init__(self, robot: RobotModel, nthread: int | None = None) -> None:
        """Build the servo model and the host pool.

        ``nthread``: rollout threads per call; default the cores shared by this process's devices
        (under ``pmap`` each device calls at once, so 2 devices on 2 cores get 1 thread each).
        """
        self.robot = robot
        self.servo = build_servo_model(robot)
        self.pool = CPool(self.servo, nthread or max(1, cores() // jax.local_device_count()))
        self._forward_host = _batched(lambda q, v: (self.pool.forward(q, v),), 1)
        self._step_host = _batched(self.pool.step, 1)

    def init(self, params: PhysicsParams, qpos: jax.Array, qvel: jax.Array) -> tuple[CData, Readout]:
        """The physics state at ``qpos`` (nq,), ``qvel`` (nv,) and its readout (a forward pass in C)."""
        del params  # the readout is kinematic: the nominal model gives it
        nsens = self.servo.model.nsensordata
        (sens,) = jax.pure_callback(
            self._forward_host,
            (jax.ShapeDtypeStruct((nsens,), jnp.float32),),
            qpos,
            qvel,
            vmap_method="broadcast_all",
        )
        return CData(qpos=qpos, qvel=qvel), self.readout(sens)

    def step(self, params: PhysicsParams, data: CData, applied: jax.Array) -> tuple[CData, Readout, jax.Array]:
        """Step the substeps with the PD targets ``applied`` (n_substeps, nu) rad, in C.

        Returns the new state, its readout and the last substep's torques (nu,) N·m: the PD law of
        :mod:`mjx_walker.pd` on the state before the last substep, which is what the servos applied.
        Backlash enters through the servos' targets (:func:`mjx_walker.pd.servo_target`).
        """
        robot, m = self.robot, self.servo.model
        applied = self._backlash_targets(params, data, applied)
        row = jnp.concatenate([jnp.ravel(getattr(params, name)) for name in PARAM_FIELDS]).astype(jnp.float32)
        f32 = jnp.float32
        shapes = (
            jax.ShapeDtypeStruct((m.nq,), f32),
            jax.ShapeDtypeStruct((m.nv,), f32),
            jax.ShapeDtypeStruct((m.nq,), f32),
            jax.ShapeDtypeStruct((m.nv,), f32),
            jax.ShapeDtypeStruct((m.nsensordata,), f32),
        )
        qpos, qvel, qpos_before, qvel_before, sens = jax.pure_callback(
            self._step_host, shapes, row, data.qpos, data.qvel, applied, vmap_method="broadcast_all"
        )
        kp = jnp.asarray(robot.kp, f32) * params.kp_scale
        kd = jnp.asarray(robot.kd, f32) * params.kd_scale
        limit = jnp.asarray(robot.torque_limit, f32)
        tau = pd.pd_torque(qpos_before[robot.qpos_adr], qvel_before[robot.dof_adr], applied[-1], kp, kd, limit)
        return CData(qpos=qpos, qvel=qvel), self.readout(sens), tau

    def _backlash_targets(self, params: PhysicsParams, data: CData, applied: jax.Array) -> jax.Array:
        """The servo targets (n_substeps, nu) rad that apply the backlash dead band to ``applied``.

        The joints are predicted at each substep from the step's start: q + qd * t, t = k * sim_dt.
        """
        robot = self.robot
        q, qd = data.qpos[robot.qpos_adr], data.qvel[robot.dof_adr]
        t = jnp.arange(applied.shape[0], dtype=jnp.float32) * float(self.servo.model.opt.timestep)
        return pd.servo_target(applied, q + t[:, None] * qd, params.backlash)

    def readout(self, sens: jax.Array) -> Readout:
        """The readout (see :class:`~mjx_walker.state.Readout`) from one env's sensor values (nsensordata,)."""
        s = {name: sens[sl] for name, sl in self.servo.sensors.items()}
        imu_rot = quat_to_mat(s["imu_quat"])
        n_left = int(np.sum(self.robot.foot_geoms[0] >= 0))
        found = s["contacts"] > 0.5
        return Readout(
            root_rot=quat_to_mat(s["root_quat"]),
            imu_rot=imu_rot,
            imu_angvel=imu_rot @ s["gyro"],
            feet_pos=s["feet_pos"].reshape(2, 3),
            feet_contact=jnp.stack([jnp.any(found[:n_left]), jnp.any(found[n_left:])]),
        )
