"""Render recorded qpos frames to MP4 with MuJoCo's offscreen renderer (collision geoms).

``MUJOCO_GL=egl python -m mjx_walker.runner.render frames.npz out.mp4``; run in a subprocess by
:func:`mjx_walker.evaluation.video.render_video` because the GL backend is fixed when mujoco is imported.
MP4 needs an ffmpeg binary: the one on PATH, else the one the imageio-ffmpeg package ships.
"""

from __future__ import annotations

import shutil
import sys

import numpy as np


def render_frames(robot_name: str, qpos: np.ndarray, width: int = 480, height: int = 360) -> list[np.ndarray]:
    """RGB images (height, width, 3) uint8 of a robot at each qpos (n, nq), tracking camera."""
    import mujoco

    from mjx_walker.model import build_robot_model

    robot = build_robot_model(robot_name)
    model, data = robot.mj_model, mujoco.MjData(robot.mj_model)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
    camera.trackbodyid = robot.root_body
    camera.distance, camera.elevation, camera.azimuth = 2.5, -15.0, 135.0
    option = mujoco.MjvOption()
    option.geomgroup[:] = 1  # collision geoms too (visual meshes are stripped)
    images = []
    with mujoco.Renderer(model, height, width) as renderer:
        for q in qpos:
            data.qpos[:] = q
            mujoco.mj_forward(model, data)
            renderer.update_scene(data, camera, option)
            images.append(renderer.render())
    return images


def use_bundled_ffmpeg() -> None:
    """Point mediapy at imageio-ffmpeg's bundled ffmpeg when there is none on PATH."""
    if shutil.which("ffmpeg") is None:
        import imageio_ffmpeg
        import mediapy

        mediapy.set_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe())


def render(frames_path: str, out_path: str, width: int = 480, height: int = 360) -> None:
    """Write an MP4 of the qpos frames (n, nq) in ``frames_path`` (npz with qpos, robot, fps)."""
    import mediapy

    use_bundled_ffmpeg()
    blob = np.load(frames_path)
    images = render_frames(str(blob["robot"]), blob["qpos"], width, height)
    mediapy.write_video(out_path, images, fps=float(blob["fps"]))


if __name__ == "__main__":
    render(sys.argv[1], sys.argv[2])
