"""MP4 of an episode's recorded qpos, rendered in a subprocess (the GL backend is fixed at import)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from mjx_walker.onnx_meta import PolicyMeta


def render_video(meta: PolicyMeta, qpos: list[np.ndarray], path: Path) -> str:
    """Render qpos frames to MP4 in a subprocess trying MUJOCO_GL=egl then osmesa; a status line."""
    if not qpos:
        return "no frames recorded"
    with tempfile.TemporaryDirectory() as tmp:
        frames = Path(tmp) / "qpos.npz"
        np.savez(frames, qpos=np.asarray(qpos), robot=meta.robot, fps=1.0 / meta.ctrl_dt)
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
