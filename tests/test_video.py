"""`evaluate --video`: the robot's full scene posed from the simulation, speeds and text, frame size."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
import pytest

from mjx_walker.evaluation.video import Recording, render_video
from mjx_walker.model import build_robot_model
from mjx_walker.onnx_meta import read_meta
from mjx_walker.runner import render

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "models" / "policies" / "berkeley_humanoid_cpu" / "policy.onnx"


@pytest.mark.parametrize("robot", ["berkeley_humanoid", "t1"])
def test_display_scene_has_the_meshes_and_the_simulated_pose(robot):
    sim = build_robot_model(robot).mj_model
    scene = render.DisplayScene(robot, sim)
    assert scene.visual and scene.note == ""
    assert scene.model.nmesh > 0 and sim.nmesh == 0  # training strips the visual meshes; the display has them
    assert scene.model.nq == sim.nq
    qpos = np.array(sim.qpos0)
    qpos[:3] = [1.0, -2.0, 0.7]
    qpos[7:] += np.linspace(-0.1, 0.1, sim.nq - 7)
    scene.pose(qpos)
    np.testing.assert_allclose(scene.data.qpos, qpos[scene.index])
    data = mujoco.MjData(sim)
    data.qpos[:] = qpos
    mujoco.mj_forward(sim, data)
    for b in range(1, sim.nbody):  # every body of the robot sits where the simulation put it
        name = mujoco.mj_id2name(sim, mujoco.mjtObj.mjOBJ_BODY, b)
        d = mujoco.mj_name2id(scene.model, mujoco.mjtObj.mjOBJ_BODY, name)
        np.testing.assert_allclose(scene.data.xpos[d], data.xpos[b], atol=1e-9)


def _one_body(joint: str) -> mujoco.MjModel:
    """A free body carrying a body with one hinge named ``joint``."""
    leg = f"<body name='leg'><joint name='{joint}'/><geom size='.1'/></body>"
    body = f"<body name='b'><freejoint/><geom size='.1'/>{leg}</body>"
    return mujoco.MjModel.from_xml_string(f"<mujoco><worldbody>{body}</worldbody></mujoco>")


def test_joint_layouts_that_differ_are_named():
    a, b = _one_body("hinge"), _one_body("other")
    np.testing.assert_array_equal(render.qpos_index(a, a), np.arange(8))
    with pytest.raises(ValueError, match="'other'"):
        render.qpos_index(a, b)


def test_base_frame_velocity_turns_with_the_base():
    yaw = np.pi / 2  # base facing world +y
    qpos = np.zeros((1, 7))
    qpos[0, 3:7] = [np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]
    qvel = np.zeros((1, 6))
    qvel[0, :3] = [0.0, 0.5, 0.0]  # moving along world +y: forward for the base
    np.testing.assert_allclose(render.base_frame_velocity(qpos, qvel), [[0.5, 0.0, 0.0]], atol=1e-12)


def test_trailing_mean_and_measured_speeds():
    values = np.array([[1.0], [3.0], [5.0], [7.0]])
    np.testing.assert_allclose(render.trailing_mean(values, 2), [[1.0], [2.0], [4.0], [6.0]])
    qpos = np.tile([0, 0, 0.5, 1, 0, 0, 0], (10, 1)).astype(float)
    qvel = np.tile([0.4, -0.1, 0, 0, 0, 0.3], (10, 1)).astype(float)
    np.testing.assert_allclose(render.measured_speeds(qpos, qvel, fps=50.0), np.tile([0.4, -0.1, 0.3], (10, 1)))


def test_text_is_drawn_in_place():
    pytest.importorskip("PIL")
    image = np.full((240, 320, 3), 128, np.uint8)
    out = render.draw_text(image, render.overlay_lines([0.5, 0, 0], [0.45, 0.01, -0.02], 1.5))
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.any(out[:40, :200] != 128) and np.all(out[-40:, -40:] == 128)  # top left only
    assert render.overlay_lines([0.5, 0, 0], [0.45, 0.01, -0.02], 1.5)[0].startswith("command   vx +0.50")


def test_rendered_video_has_the_requested_size(tmp_path):
    """Rendered through MUJOCO_GL=egl, else osmesa (as evaluate does); skipped where neither works."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    meta = read_meta(SHIPPED)
    sim = build_robot_model(meta.robot).mj_model
    qpos = np.tile(sim.qpos0, (3, 1))
    qpos[:, 0] = [0.0, 0.01, 0.02]
    qvel = np.zeros((3, sim.nv))
    qvel[:, 0] = 0.5
    out = tmp_path / "walk.mp4"
    status = render_video(meta, Recording(list(qpos), list(qvel), [0.5, 0.0, 0.0]), out, size=(320, 240))
    if not status.startswith("wrote"):
        pytest.skip(f"no OpenGL backend here: {status}")
    reader = imageio_ffmpeg.read_frames(str(out))
    info = next(reader)
    frames = list(reader)
    assert tuple(info["size"]) == (320, 240) and len(frames) == 3
