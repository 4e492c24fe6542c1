"""MJX physics (``SimConfig.backend = "mjx"``): the GPU path, pure JAX end to end.

One control step is a ``lax.scan`` over the substeps: each applies the PD law
(:func:`mjx_walker.pd.pd_torque`, backlash included) to that substep's lagged target and calls
``mjx.step``. The
randomized parameters are arguments (``apply_params`` builds the env's model on every step).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from mujoco import mjx

from mjx_walker import pd
from mjx_walker.model import RobotModel
from mjx_walker.randomization import apply_params
from mjx_walker.state import PhysicsParams, Readout

CONTACT_TOLERANCE = 1e-3  # m, a foot closer than this to the floor counts as in contact


class MjxPhysics:
    """The robot on MJX: ``init`` and ``step`` are pure functions of their arguments."""

    def __init__(self, robot: RobotModel) -> None:
        """Put the nominal model on this process's own device (MJX's default is process 0's)."""
        self.robot = robot
        device = jax.local_devices()[0]
        self.mjx_model = mjx.put_model(robot.mj_model, device=device)
        # make_data, not put_data of a C forward pass: MuJoCo C finds more heightfield contacts
        # than MJX's fixed contact slots hold, and init's forward pass fills every field anyway.
        template = mjx.make_data(robot.mj_model, device=device)
        self._data_template = template.replace(qpos=jnp.asarray(robot.default_qpos, template.qpos.dtype))

    def init(self, params: PhysicsParams, qpos: jax.Array, qvel: jax.Array) -> tuple[mjx.Data, Readout]:
        """The physics state at ``qpos`` (nq,), ``qvel`` (nv,) and its readout (a forward pass)."""
        model = apply_params(self.mjx_model, self.robot, params)
        data = mjx.forward(model, self._data_template.replace(qpos=qpos, qvel=qvel))
        return data, self.readout(data)

    def step(self, params: PhysicsParams, data: mjx.Data, applied: jax.Array) -> tuple[mjx.Data, Readout, jax.Array]:
        """Step the substeps with the PD targets ``applied`` (n_substeps, nu) rad.

        Returns the new data, its readout and the last substep's torques (nu,) N·m.
        """
        robot = self.robot
        model = apply_params(self.mjx_model, robot, params)
        kp = jnp.asarray(robot.kp, jnp.float32) * params.kp_scale
        kd = jnp.asarray(robot.kd, jnp.float32) * params.kd_scale
        limit = jnp.asarray(robot.torque_limit, jnp.float32)

        def substep(d: mjx.Data, target: jax.Array) -> tuple[mjx.Data, jax.Array]:
            """One physics step with PD torques toward ``target`` (nu,)."""
            q, qd = d.qpos[robot.qpos_adr], d.qvel[robot.dof_adr]
            tau = pd.pd_torque(q, qd, target, kp, kd, limit, params.backlash)
            return mjx.step(model, d.replace(ctrl=tau)), tau

        data, taus = jax.lax.scan(substep, data, applied)
        return data, self.readout(data), taus[-1]

    def readout(self, data: mjx.Data) -> Readout:
        """What the task reads of an MJX state (its kinematics are of the last forward pass)."""
        robot = self.robot
        imu_body = int(robot.mj_model.site_bodyid[robot.imu_site])
        return Readout(
            root_rot=data.xmat[robot.root_body],
            imu_rot=data.site_xmat[robot.imu_site],
            imu_angvel=data.cvel[imu_body, :3],
            feet_pos=data.site_xpos[robot.foot_sites],
            feet_contact=self._feet_contact(data),
        )

    def _feet_contact(self, data: mjx.Data) -> jax.Array:
        """(2,) bool: does any collision geom of the left / right foot touch the floor."""
        contact = data._impl.contact  # MJX keeps contacts in its implementation-specific part
        g1, g2 = contact.geom[:, 0], contact.geom[:, 1]
        touching = contact.dist < CONTACT_TOLERANCE
        floor = self.robot.floor_geom
        result = []
        for side in self.robot.foot_geoms:
            geoms = jnp.asarray(side[side >= 0])
            in_foot1 = jnp.any(g1[:, None] == geoms[None, :], axis=1)
            in_foot2 = jnp.any(g2[:, None] == geoms[None, :], axis=1)
            pair = (in_foot1 & (g2 == floor)) | (in_foot2 & (g1 == floor))
            result.append(jnp.any(pair & touching))
        return jnp.stack(result)
