"""Render recorded frames to MP4 with MuJoCo's offscreen renderer: the robot as it looks, followed.

``MUJOCO_GL=egl python -m mjx_walker.runner.render frames.npz out.mp4``; run in a subprocess by
:func:`mjx_walker.evaluation.video.render_video` because the GL backend is fixed when mujoco is imported.

The simulated model has the robot's visual meshes stripped (only collision shapes remain), so the
frames are drawn in a :class:`DisplayScene`: the robot's full scene from the asset package
(:func:`mjx_walker.robots.scene_path`), posed by copying the simulated ``qpos`` into it joint by
joint. A camera tracks the base; the command and the measured base velocity are written on each
frame when Pillow is installed. Shadows are drawn on a GPU and left out under a software OpenGL
(llvmpipe, OSMesa), where they triple the time per frame. MP4 needs an ffmpeg binary: the one on PATH, else the one the
imageio-ffmpeg package ships.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # mujoco is imported where it is used: the GL backend is fixed at its import
    import mujoco

DEFAULT_SIZE = (640, 480)  # (width, height) pixels
SMOOTH_S = 0.5  # s: the measured speed on a frame is the mean over this trailing window
_FREE_WIDTH = {0: 7, 1: 4, 2: 1, 3: 1}  # qpos numbers per joint type: free, ball, slide, hinge
_SOFTWARE_GL = ("llvmpipe", "softpipe", "swrast", "software", "osmesa")


def joint_keys(model: mujoco.MjModel) -> list[str]:
    """A name per joint of ``model``: its own, or for an unnamed one its body's name and rank in that body."""
    import mujoco

    keys, rank = [], {}
    for j in range(model.njnt):
        body = int(model.jnt_bodyid[j])
        rank[body] = rank.get(body, -1) + 1
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j)
        keys.append(name or f"{mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, body)}[{rank[body]}]")
    return keys


def qpos_index(source: mujoco.MjModel, target: mujoco.MjModel) -> np.ndarray:
    """(target.nq,) int: where each of ``target``'s qpos numbers sits in ``source``'s qpos.

    Joints are matched by name (an unnamed one, e.g. the free base, by its body) and type.
    ValueError naming the joint when ``target`` has one ``source`` lacks, or of another type.
    """
    found = {key: k for k, key in enumerate(joint_keys(source))}
    index = np.zeros(target.nq, dtype=int)
    for j, key in enumerate(joint_keys(target)):
        k, kind = found.get(key, -1), int(target.jnt_type[j])
        if k < 0 or int(source.jnt_type[k]) != kind:
            raise ValueError(f"joint {key!r} of the display model has no counterpart of the same type")
        width, start, src = _FREE_WIDTH[kind], int(target.jnt_qposadr[j]), int(source.jnt_qposadr[k])
        index[start : start + width] = np.arange(src, src + width)
    return index


class DisplayScene:
    """The robot's full scene (visual meshes), posed from the simulated model's qpos."""

    def __init__(self, robot_name: str, sim_model: mujoco.MjModel | None = None) -> None:
        """Load the full scene of ``robot_name``; fall back to ``sim_model``'s collision shapes if it cannot.

        ``sim_model`` is the MjModel whose qpos will be shown (default: the training model).
        """
        import mujoco

        from mjx_walker.model import build_robot_model
        from mjx_walker.robots import get_robot, scene_path

        spec = get_robot(robot_name)
        sim_model = sim_model if sim_model is not None else build_robot_model(robot_name).mj_model
        self.note = ""
        try:
            self.model = mujoco.MjModel.from_xml_path(str(scene_path(spec)))
            self.index = qpos_index(sim_model, self.model)
            self.visual = True
        except (ValueError, OSError) as err:  # mesh files missing, or another joint layout
            self.model, self.index, self.visual = sim_model, np.arange(sim_model.nq), False
            self.note = f"drawing collision shapes: the full scene of {robot_name!r} cannot be used ({err})"
        self.data = mujoco.MjData(self.model)
        self.root_body = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, spec.root_body)

    def pose(self, qpos: np.ndarray) -> None:
        """Show the simulated pose ``qpos`` (sim nq,): copy it in and recompute positions."""
        import mujoco

        self.data.qpos[:] = np.asarray(qpos)[self.index]
        mujoco.mj_forward(self.model, self.data)

    def option(self) -> mujoco.MjvOption:
        """The MjvOption to draw with: default groups for the full scene, every group for the fallback."""
        import mujoco

        option = mujoco.MjvOption()
        if not self.visual:
            option.geomgroup[:] = 1  # collision shapes live in a hidden group
        return option

    def camera(self, distance: float = 2.0) -> mujoco.MjvCamera:
        """A camera tracking the base from the front left, slightly above."""
        import mujoco

        camera = mujoco.MjvCamera()
        camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
        camera.trackbodyid = self.root_body
        camera.distance, camera.elevation, camera.azimuth = distance, -15.0, 135.0
        return camera


def software_gl() -> bool:
    """Whether the current OpenGL context renders on the CPU (call with a renderer's context current)."""
    try:
        from OpenGL import GL

        name = (GL.glGetString(GL.GL_RENDERER) or b"").decode(errors="replace").lower()
    except Exception:  # no PyOpenGL, or no context: assume a GPU
        return False
    return any(word in name for word in _SOFTWARE_GL)


def base_frame_velocity(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """(n, 3) base linear velocity m/s in the base frame, from qpos (n, nq) and qvel (n, nv) of a free base.

    qpos[:, 3:7] is the base orientation quaternion (w, x, y, z); qvel[:, 0:3] the world-frame velocity.
    """
    w, x, y, z = (np.asarray(qpos, float)[:, 3 + i] for i in range(4))
    rot = np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )  # (n, 3, 3) body-to-world
    return np.einsum("nji,nj->ni", rot, np.asarray(qvel, float)[:, 0:3])


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """(n, k) mean of each row of ``values`` (n, k) with up to ``window`` - 1 rows before it."""
    values = np.asarray(values, float)
    csum = np.cumsum(np.vstack([np.zeros((1, values.shape[1])), values]), axis=0)
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(0, ends - max(1, int(window)))
    return (csum[ends] - csum[starts]) / (ends - starts)[:, None]


def measured_speeds(qpos: np.ndarray, qvel: np.ndarray, fps: float, window_s: float = SMOOTH_S) -> np.ndarray:
    """(n, 3) [vx m/s, vy m/s, yaw rate rad/s] of the base, base frame, averaged over ``window_s``."""
    raw = np.column_stack([base_frame_velocity(qpos, qvel)[:, :2], np.asarray(qvel, float)[:, 5]])
    return trailing_mean(raw, round(window_s * fps))


def overlay_lines(command: Sequence[float], measured: Sequence[float], time_s: float) -> list[str]:
    """The text of one frame: the command and the measured [vx m/s, vy m/s, yaw rad/s], and the time."""
    fmt = "vx {:+.2f}  vy {:+.2f} m/s   yaw {:+.2f} rad/s"
    return [
        "command   " + fmt.format(*command),
        "measured  " + fmt.format(*measured),
        f"t {time_s:5.1f} s",
    ]


def draw_text(image: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """``image`` (h, w, 3) uint8 with ``lines`` in a dark box at its top left; unchanged without Pillow."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        return image
    canvas = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(canvas, "RGBA")
    size = max(10, image.shape[0] // 32)
    try:
        font: Any = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size
        font = ImageFont.load_default()
    text = "\n".join(lines)
    left, top, right, bottom = draw.multiline_textbbox((8, 6), text, font=font)
    draw.rectangle((left - 6, top - 4, right + 6, bottom + 4), fill=(0, 0, 0, 150))
    draw.multiline_text((8, 6), text, font=font, fill=(255, 255, 255, 255))
    return np.asarray(canvas)


def render_frames(
    robot_name: str,
    qpos: np.ndarray,
    width: int = DEFAULT_SIZE[0],
    height: int = DEFAULT_SIZE[1],
    qvel: np.ndarray | None = None,
    command: Sequence[float] | None = None,
    fps: float = 50.0,
) -> list[np.ndarray]:
    """RGB images (height, width, 3) uint8 of the robot at each qpos (n, nq), tracking camera.

    With ``qvel`` (n, nv) and ``command`` [vx m/s, vy m/s, yaw rad/s], each frame also shows the
    command and the measured base velocity (Pillow permitting); ``fps`` is the frames' rate.
    """
    import mujoco

    scene = DisplayScene(robot_name)
    if scene.note:
        print(scene.note, file=sys.stderr)
    glob = scene.model.vis.global_
    glob.offwidth, glob.offheight = max(glob.offwidth, width), max(glob.offheight, height)
    camera, option = scene.camera(), scene.option()
    speeds = None if qvel is None or command is None or not len(qvel) else measured_speeds(qpos, qvel, fps)
    images = []
    with mujoco.Renderer(scene.model, height, width) as renderer:
        shadows = not software_gl()
        for i, q in enumerate(qpos):
            scene.pose(q)
            renderer.update_scene(scene.data, camera, option)
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = shadows
            image = renderer.render()
            if speeds is not None:
                image = draw_text(image, overlay_lines(command, speeds[i], i / fps))
            images.append(image)
    return images


def use_bundled_ffmpeg() -> None:
    """Point mediapy at imageio-ffmpeg's bundled ffmpeg when there is none on PATH."""
    if shutil.which("ffmpeg") is None:
        import imageio_ffmpeg
        import mediapy

        mediapy.set_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe())


def render(frames_path: str, out_path: str) -> None:
    """Write an MP4 of the frames in ``frames_path``.

    The npz holds qpos (n, nq), robot, fps and optionally qvel (n, nv), command (3,), width and
    height (pixels, default 640 x 480).
    """
    import mediapy

    use_bundled_ffmpeg()
    blob = np.load(frames_path)
    width, height = (int(blob[k]) if k in blob else d for k, d in zip(("width", "height"), DEFAULT_SIZE, strict=True))
    qvel = blob["qvel"] if "qvel" in blob and len(blob["qvel"]) else None
    command = blob["command"] if "command" in blob else None
    fps = float(blob["fps"])
    images = render_frames(str(blob["robot"]), blob["qpos"], width, height, qvel, command, fps)
    mediapy.write_video(out_path, images, fps=fps)


if __name__ == "__main__":
    render(sys.argv[1], sys.argv[2])
