"""Robot registry and model build: names resolve, mass is kept, the PD motor equals the MJCF actuator."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from mjx_walker.model import build_robot_model
from mjx_walker.pd import pd_torque
from mjx_walker.robots import ROBOTS, get_robot, scene_path


@pytest.mark.parametrize("name", ["berkeley_humanoid", "t1", "g1", "h1"])
def test_registry_resolves_every_name(name):
    robot = build_robot_model(name)
    m = robot.mj_model
    assert robot.nu == m.nu > 0
    assert robot.joint_names == tuple(m.joint(int(m.actuator_trnid[i, 0])).name for i in range(m.nu))
    assert np.all(robot.torque_limit > 0) and np.all(robot.kp > 0)
    assert robot.foot_sites.shape == (2,) and (robot.foot_geoms >= 0).any(axis=1).all()
    assert m.body(robot.root_body).name == ROBOTS[name].root_body
    assert m.nsensor == 0  # observations come from the state, not from sensors
    assert robot.standing_height > 0.3
    assert robot.pose_weights.shape == (robot.nu,) and (robot.pose_weights < 1).sum() == 4  # hip pitch, knee
    # default pose lies inside the joint limits
    assert np.all(robot.default_joint_pos >= robot.joint_lower - 1e-6)
    assert np.all(robot.default_joint_pos <= robot.joint_upper + 1e-6)


def test_unknown_robot_error_lists_names():
    with pytest.raises(KeyError, match="known robots are"):
        get_robot("nao")


def test_stripping_visual_meshes_keeps_mass():
    robot = build_robot_model("berkeley_humanoid")
    original = mujoco.MjModel.from_xml_path(str(scene_path(get_robot("berkeley_humanoid"))))
    assert robot.total_mass == pytest.approx(16.0567651, abs=1e-6)
    assert robot.total_mass == pytest.approx(original.body_subtreemass[1], abs=1e-9)
    assert robot.mj_model.nmesh == 0


def test_motor_plus_pd_equals_original_position_actuators():
    """Our PD torque on motors reproduces the MJCF position actuators exactly (1 s, MuJoCo C)."""
    robot = build_robot_model("berkeley_humanoid")
    original = mujoco.MjModel.from_xml_path(str(scene_path(get_robot("berkeley_humanoid"))))
    d0 = mujoco.MjData(original)
    mujoco.mj_resetDataKeyframe(original, d0, 0)
    m = robot.mj_model
    original.opt.timestep = m.opt.timestep  # the physics substep of SimConfig(), not the scene's own
    d = mujoco.MjData(m)
    d.qpos[:] = robot.default_qpos
    target = robot.default_joint_pos + 0.1
    d0.ctrl[:] = target
    for _ in range(round(1.0 / m.opt.timestep)):
        d.ctrl[:] = pd_torque(
            d.qpos[robot.qpos_adr], d.qvel[robot.dof_adr], target, robot.kp, robot.kd, robot.torque_limit
        )
        mujoco.mj_step(m, d)
        mujoco.mj_step(original, d0)
    np.testing.assert_allclose(d.qpos, d0.qpos, atol=1e-9)


def test_pd_torque_hand_computed_and_clipped():
    q = np.array([0.0, 0.5, -1.0])
    qd = np.array([1.0, 0.0, 0.0])
    target = np.array([0.1, 0.5, 1.0])
    kp = np.array([10.0, 10.0, 10.0])
    kd = np.array([2.0, 2.0, 2.0])
    limit = np.array([5.0, 5.0, 5.0])
    # 10*0.1 - 2*1 = -1 ; 0 ; 10*2 = 20 -> clipped to 5
    np.testing.assert_allclose(pd_torque(q, qd, target, kp, kd, limit), [-1.0, 0.0, 5.0])
