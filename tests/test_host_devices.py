"""CPU host devices: the CLI never picks a device count that hangs XLA, and train refuses one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import pytest

from mjx_walker.configs import ConfigError
from mjx_walker.host_devices import MAX_ENVS_PER_HOST_DEVICE, check_host_devices, choose_host_devices
from mjx_walker.ppo_config import PPOConfig
from mjx_walker.run_dir import METRICS_FILE, read_metrics

# The smallest reproduction of the start-up hang (2 host devices x 128 envs). The
# evaluator keeps the test preset's 16 eval envs (the first reproduction had 32): its compiled code then comes
# from the persistent cache the other tests fill, and the hang was in network init, before it.
HANG_ARGS = [
    "--preset",
    "test",
    "--set",
    "ppo.num_envs=256",
    "--set",
    "ppo.batch_size=256",
    "--set",
    "ppo.num_minibatches=2",
    "--set",
    "ppo.num_timesteps=20480",
    "--set",
    "ppo.num_evals=2",
    "--no-progress",
]


def _ppo(num_envs: int, batch_size: int) -> PPOConfig:
    return PPOConfig(num_envs=num_envs, batch_size=batch_size, num_minibatches=4)


def test_choice_keeps_each_device_at_or_under_the_safe_batch():
    assert MAX_ENVS_PER_HOST_DEVICE == 32
    assert choose_host_devices(_ppo(256, 256), cores=2) == 1  # 128 per device would hang
    assert choose_host_devices(_ppo(64, 64), cores=2) == 2  # 32 per device: measured to run (+53 %)
    assert choose_host_devices(_ppo(256, 256), cores=16) == 16  # 16 per device
    assert choose_host_devices(_ppo(1024, 1024), cores=48) == 32  # 48 does not divide 1024; 32 x 32 envs
    assert choose_host_devices(_ppo(66, 66), cores=2) == 1  # 33 per device is over the limit
    assert choose_host_devices(_ppo(48, 50), cores=2) == 2  # 24 per device, batch 25 per device
    assert choose_host_devices(_ppo(48, 51), cores=2) == 1  # batch does not divide: 1 device
    assert choose_host_devices(_ppo(16, 16), cores=1) == 1


def test_a_hanging_device_count_is_refused_with_the_field_and_value():
    check_host_devices(_ppo(256, 256), 1)
    check_host_devices(_ppo(64, 64), 2)
    with pytest.raises(ConfigError, match=r"num_envs = 256 .* 2 XLA host devices: 128 envs per device"):
        check_host_devices(_ppo(256, 256), 2)


def _train_cli(extra: list[str], tmp_path, timeout: float) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    cmd = [sys.executable, "-m", "mjx_walker.train", *HANG_ARGS, "--out", str(tmp_path / "run"), *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def test_explicit_hanging_count_fails_fast_with_one_line(tmp_path):
    proc = _train_cli(["--host-devices", "2"], tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "128 envs per device hangs" in proc.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow
def test_issue_reproduction_gets_past_start_up_instead_of_hanging(tmp_path):
    """Before the fix the CLI gave this 2 devices on 2 cores and hung forever at 0 % CPU.

    The hang was at start-up, in Brax's network init, before the first (step-0) evaluation. The
    step-0 metrics row is written after that evaluation, so its arrival proves the run got past
    the hang; the test stops there rather than compiling and running the whole training (minutes).
    """
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    env["MJX_WALKER_JAX_CACHE"] = str(jax.config.jax_compilation_cache_dir)  # the suite's cache
    cmd = [sys.executable, "-m", "mjx_walker.train", *HANG_ARGS, "--out", str(tmp_path / "run")]
    log = tmp_path / "stderr.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 600
        try:
            while not _first_row(tmp_path / "run"):
                assert proc.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, "no step-0 evaluation within 10 minutes: hung at start-up"
                time.sleep(0.5)
        finally:
            proc.kill()
            proc.wait()
    expected = choose_host_devices(_ppo(256, 256), os.cpu_count() or 1)
    assert f"devices: {expected} x cpu" in log.read_text()
    assert _first_row(tmp_path / "run")[0]["env_steps"] == 0


def _first_row(run: Path) -> list[dict]:
    """The complete metrics rows written so far (none before the step-0 evaluation)."""
    return read_metrics(run) if (run / METRICS_FILE).is_file() else []
