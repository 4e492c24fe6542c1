"""MP4 of an episode's recorded trajectory, rendered in a subprocess (the GL backend is fixed at import).

The frames show the robot's full scene (visual meshes), a camera tracking the base, and the
command with the measured base velocity (see :mod:`mjx_walker.runner.render`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mjx_walker.onnx_meta import PolicyMeta

VIDEO_SIZE = (640, 480)  # (width, height) pixels


@dataclass(frozen=True)
class Recording:
    """An episode's trajectory, one entry per control tick: what its video shows."""

    qpos: list[np.ndarray]  # (nq,) each: base position m, base quaternion (w, x, y, z), joints rad
    qvel: list[np.ndarray] = field(default_factory=list)  # (nv,) each: base m/s (world), rad/s (local); joints
    command: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # vx m/s, vy m/s, yaw rad/s


def save_frames(meta: PolicyMeta, recording: Recording, path: Path, size: tuple[int, int]) -> None:
    """Write what the renderer needs into the npz ``path``: qpos, qvel, command, robot, fps, width, height."""
    np.savez(
        path,
        qpos=np.asarray(recording.qpos),
        qvel=np.asarray(recording.qvel),
        command=np.asarray(recording.command, float),
        robot=meta.robot,
        fps=1.0 / meta.ctrl_dt,
        width=int(size[0]),
        height=int(size[1]),
    )


def render_video(
    meta: PolicyMeta, recording: Recording | list[np.ndarray], path: Path, size: tuple[int, int] = VIDEO_SIZE
) -> str:
    """Render a recording (or bare qpos frames) to MP4 of ``size`` (width, height) pixels; a status line.

    Runs in a subprocess trying MUJOCO_GL=egl then osmesa (or only the MUJOCO_GL set).
    """
    if not isinstance(recording, Recording):
        recording = Recording(list(recording))
    if not recording.qpos:
        return "no frames recorded"
    with tempfile.TemporaryDirectory() as tmp:
        frames = Path(tmp) / "frames.npz"
        save_frames(meta, recording, frames, size)
        errors = []
        backends = [os.environ["MUJOCO_GL"]] if os.environ.get("MUJOCO_GL") else ["egl", "osmesa"]
        for gl in backends:
            cmd = [sys.executable, "-m", "mjx_walker.runner.render", str(frames), str(path)]
            proc = subprocess.run(cmd, env={**os.environ, "MUJOCO_GL": gl}, capture_output=True, text=True)
            if proc.returncode == 0:
                return f"wrote {path} with MUJOCO_GL={gl}"
            errors.append(f"{gl}: {(proc.stderr.strip().splitlines() or ['failed'])[-1]}")
    message = (
        "no video: rendering failed for every MUJOCO_GL backend tried ("
        + "; ".join(errors)
        + "); MP4 needs an OpenGL backend (EGL or OSMesa)"
    )
    print(message, file=sys.stderr)
    return message
