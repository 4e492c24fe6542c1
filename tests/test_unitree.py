"""The Unitree G1 backend: the CRC, the message mapping, and the deploy sequence against a simulated G1 on loopback."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mjx_walker.runner.unitree.crc import crc32_mpeg2, low_cmd_crc, pack_low_cmd, packed_crc
from mjx_walker.runner.unitree.messages import gravity_from_quaternion, parse_remote, remote_bytes

pytest.importorskip("cyclonedds")

DOMAIN = 1  # a simulated robot's DDS domain on loopback (0 is a real robot's)
_KINDS = {
    "zero": "motors zero torque",
    "commanded": "motors commanded",
    "damping": "motors damping",
    "timeout": "no command for",
}


def _reference_crc(packed: bytes) -> int:
    """The published algorithm written out bit by bit: 32-bit LE words but the last, MSB first, CRC-32/MPEG-2."""
    crc = 0xFFFFFFFF
    for (word,) in struct.iter_unpack("<I", packed[:-4]):
        for bit in range(31, -1, -1):
            top = (crc >> 31) ^ ((word >> bit) & 1)
            crc = ((crc << 1) & 0xFFFFFFFF) ^ (0x04C11DB7 if top else 0)
    return crc


def test_crc_matches_the_catalogue_and_the_bitwise_algorithm():
    from mjx_walker.runner.unitree.hg_types import LowCmd_

    assert crc32_mpeg2(b"123456789") == 0x0376E6E7  # CRC-32/MPEG-2's catalogue check value
    cmd = LowCmd_(mode_machine=5)
    for i in range(29):
        m = cmd.motor_cmd[i]
        m.mode, m.q, m.kp, m.kd = 1, 0.1 * i - 1.0, 40.0 + i, 1.5
    packed = pack_low_cmd(cmd)
    assert len(packed) == 1004  # the C struct's size
    assert low_cmd_crc(cmd) == packed_crc(packed) == _reference_crc(packed)
    cmd.motor_cmd[7].q += 1e-3
    assert low_cmd_crc(cmd) != _reference_crc(packed)  # any change shows


def test_messages_map_into_the_runners_contract():
    np.testing.assert_allclose(gravity_from_quaternion([1, 0, 0, 0]), [0, 0, -1])
    half = np.sqrt(0.5)  # rolled +90 deg about x: R^T (0, 0, -1) = (0, -sin 90, -cos 90)
    np.testing.assert_allclose(gravity_from_quaternion([half, half, 0, 0]), [0, -1, 0], atol=1e-12)
    remote = parse_remote(remote_bytes({"start", "A"}, lx=0.5, ly=-0.25, rx=1.0))
    assert remote.pressed == {"start", "A"}
    np.testing.assert_allclose(remote.sticks(), [-0.25, -0.5, -1.0])


def test_the_real_robots_domain_is_refused_without_real():
    from mjx_walker.runner.safety import SafetyError
    from mjx_walker.runner.unitree.g1_backend import UnitreeG1Backend

    with pytest.raises(SafetyError, match="domain_id = 0.*--real"):
        UnitreeG1Backend(["left_knee_joint"], domain_id=0, interface="lo")


@pytest.fixture(scope="module")
def hold_policy(tmp_path_factory) -> Path:
    """A G1 policy whose actions are 0 (targets at the default pose): the wire test's stand-in."""
    import dataclasses

    import jax
    from runner_helpers import small_policy

    from mjx_walker.configs import EnvConfig, RobotConfig
    from mjx_walker.export import export_policy

    policy = small_policy(29, EnvConfig(robot=RobotConfig(name="g1")))
    policy = dataclasses.replace(policy, params=jax.tree_util.tree_map(lambda x: 0 * x, policy.params))
    return export_policy(policy, tmp_path_factory.mktemp("g1") / "hold.onnx", rollout_steps=0).path


def _runner(policy: Path, duration: float) -> subprocess.Popen:
    """The deploy command on the simulated G1's domain, started without the start button."""
    cmd = [sys.executable, "-m", "mjx_walker.run", str(policy), "--backend", "unitree_g1", "--domain", str(DOMAIN)]
    cmd += ["--interface", "lo", "--start", "--duration", str(duration)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _publish_bad_commands() -> None:
    """One command with a wrong CRC and one with the wrong mode_machine, from this process."""
    from mjx_walker.runner.unitree import dds
    from mjx_walker.runner.unitree.hg_types import LOW_CMD_TOPIC, LOW_STATE_TOPIC, LowCmd_, LowState_

    domain, dp = dds.participant(DOMAIN, "lo")
    writer, _, latest = dds.endpoints(dp, LOW_STATE_TOPIC, LowState_, LOW_CMD_TOPIC, LowCmd_)
    deadline = time.time() + 10
    while latest.get()[0] is None and time.time() < deadline:
        time.sleep(0.01)
    bad_crc = LowCmd_(mode_machine=5)
    bad_crc.crc = low_cmd_crc(bad_crc) ^ 1
    bad_machine = LowCmd_(mode_machine=9)
    bad_machine.crc = low_cmd_crc(bad_machine)
    for cmd in (bad_crc, bad_machine):
        writer.write(cmd)
    time.sleep(0.2)
    del writer, dp, domain


@pytest.mark.slow
def test_deploy_on_a_simulated_g1_over_dds(hold_policy):
    """The sequence in order, commands signed, damping on stop, the robot damping itself when the runner dies."""
    fake = subprocess.Popen(
        [sys.executable, "-m", "mjx_walker.runner.unitree.fake_g1", "--domain", str(DOMAIN), "--interface", "lo",
         "--duration", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _publish_bad_commands()
        first = _runner(hold_policy, duration=3.0)  # the loop's own 1 s ramp included
        stdout, stderr = first.communicate(timeout=60)
        out = stdout + stderr  # what a failed assertion shows
        assert first.returncode == 0, out
        report = json.loads(stdout[stdout.index("{\n") :])  # the report is the last thing on stdout
        phases = [t["phase"] for t in report["transitions"]]
        assert phases == ["wait_state", "zero_torque", "ramp", "wait_start", "policy", "damping"], out
        assert report["transitions"][-1]["why"] == "3 s done", out  # ended by its duration, not a button
        assert report["stats"]["policy_ticks"] > 50 and report["stats"]["final_mode"] != "stopped", out
        latency = report["state_to_command_ms"]
        print(f"state -> command latency: p50 {latency['p50']:.2f} ms, p99 {latency['p99']:.2f} ms")
        second = _runner(hold_policy, duration=30.0)
        time.sleep(6.0)  # past the zero-torque phase and the ramp: the policy is running
        second.send_signal(signal.SIGKILL)  # no damping from the runner: the robot must damp itself
        second.wait(timeout=10)
        time.sleep(0.5)
    finally:
        fake.send_signal(signal.SIGTERM)
        log, _ = fake.communicate(timeout=30)
    lines = log.splitlines()
    assert any("rejected a command: crc" in line for line in lines), log
    assert any("rejected a command: mode_machine 9" in line for line in lines), log
    events = [line.split("] ", 1)[1] for line in lines if line.startswith("[fake_g1")]
    kinds = [k for e in events for k, start in _KINDS.items() if e.startswith(start)]
    # run 1: zero torque, ramp and policy, damping sent on stop (then silence); run 2: killed mid-policy
    assert kinds == ["zero", "commanded", "damping", "timeout", "zero", "commanded", "timeout"], log
    assert not any("FELL" in e for e in events), log
    summary = events[-1]
    assert "bad crc 1" in summary and "bad mode_machine 1" in summary, summary


def test_a_hardware_backend_needs_its_network():
    run = subprocess.run(
        [sys.executable, "-m", "mjx_walker.run", "x.onnx", "--backend", "unitree_g1"],
        capture_output=True, text=True, env={**os.environ},
    )  # fmt: skip
    assert run.returncode == 2 and "needs --domain and --interface" in run.stderr


def test_the_g1_backend_needs_neither_the_training_stack_nor_mujoco():
    """On the robot's computer: cyclonedds, NumPy and onnxruntime only."""
    from test_runner_standalone import BLOCKED  # the same blocked list as the runner's own test

    code = f"""
import importlib.abc, json, sys
BLOCKED = {BLOCKED!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(name + " is blocked")
sys.meta_path.insert(0, Block())
import mjx_walker.runner.deploy, mjx_walker.runner.unitree.g1_backend
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
