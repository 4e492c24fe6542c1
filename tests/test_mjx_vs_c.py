"""One MJX physics step of the default robot agrees with MuJoCo C's mj_step from the same state."""

from __future__ import annotations

import jax
import mujoco
import numpy as np
from mujoco import mjx

from mjx_walker.pd import pd_torque

# float32 MJX against float64 MuJoCo C, from a state with active foot contacts.
QPOS_TOL = 1e-6  # measured 3.4e-8
QVEL_TOL = 1e-4  # rad/s or m/s; measured 9.4e-6 with |qvel| up to 1.5


def test_one_mjx_step_matches_mujoco_c(default_env):
    robot = default_env.robot
    m = robot.mj_model
    d = mujoco.MjData(m)
    d.qpos[:] = robot.default_qpos
    for _ in range(50):  # settle onto the floor under PD so contacts are active
        d.ctrl[:] = pd_torque(
            d.qpos[robot.qpos_adr],
            d.qvel[robot.dof_adr],
            robot.default_joint_pos,
            robot.kp,
            robot.kd,
            robot.torque_limit,
        )
        mujoco.mj_step(m, d)
    rng = np.random.default_rng(0)
    d.qvel[:] += rng.uniform(-0.3, 0.3, m.nv)
    d.ctrl[:] = rng.uniform(-5.0, 5.0, m.nu)
    assert d.ncon >= 4  # both feet on the floor

    dx = jax.jit(mjx.step)(default_env.mjx_model, mjx.put_data(m, d))
    mujoco.mj_step(m, d)

    assert np.abs(np.asarray(dx.qpos) - d.qpos).max() < QPOS_TOL
    assert np.abs(np.asarray(dx.qvel) - d.qvel).max() < QVEL_TOL
    # and the step did something: the state moved by much more than the tolerance
    assert np.abs(d.qvel).max() > 100 * QVEL_TOL
