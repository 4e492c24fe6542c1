"""The memory estimate that refuses, before compiling, a run no machine can hold (no JAX compile)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mjx_walker.configs import ConfigError
from mjx_walker.memory import check_memory, estimate, mlp_params
from mjx_walker.ppo_config import PPOConfig
from mjx_walker.presets import get_preset


class FakeGPU:
    """A device with a memory limit, as jax reports an accelerator's."""

    platform = "gpu"

    def __init__(self, limit: int) -> None:
        """``limit``: bytes."""
        self.limit = limit

    def memory_stats(self) -> dict[str, int]:
        """jax's memory_stats layout."""
        return {"bytes_limit": self.limit}


def test_mlp_params_by_hand():
    assert mlp_params((2,), 3, 1) == 3 * 2 + 2 + 2 * 1 + 1
    assert mlp_params((), 4, 2) == 4 * 2 + 2


def test_estimate_by_hand():
    ppo = PPOConfig(
        num_envs=4,
        num_eval_envs=2,
        batch_size=4,
        num_minibatches=2,
        unroll_length=5,
        policy_hidden_layer_sizes=(8,),
        value_hidden_layer_sizes=(8,),
    )
    est = estimate(ppo, episode_length=10, sizes=(3, 5, 2), env_bytes=(100, 50), devices=1)
    step_floats = 2 * (3 + 5) + 2 * 2 + 4  # obs and next obs, action and raw action, 4 scalars
    assert est.rollout == 2 * (4 * 2 * 5) * step_floats * 4  # a round of 40 env steps, and its shuffled copy
    assert est.env_states == (4 + 2) * (2 * 100 + 50)
    assert est.eval_unroll == 2 * 10 * step_floats * 4
    params = (3 * 8 + 8 + 8 * 4 + 4) + (5 * 8 + 8 + 8 * 1 + 1)  # policy (mean and scale) and value
    assert est.networks == 4 * params * 4 + 3 * (4 * 5) * 16 * 4
    assert est.total == est.rollout + est.env_states + est.eval_unroll + est.networks
    halves = estimate(ppo, episode_length=10, sizes=(3, 5, 2), env_bytes=(100, 50), devices=2)
    assert halves.rollout == est.rollout // 2 and halves.env_states == est.env_states // 2


@pytest.mark.parametrize("preset", ["cpu", "gpu", "test"])
def test_presets_fit_a_laptop_and_an_h100(preset):
    env, ppo = get_preset("berkeley_humanoid", preset)
    est = check_memory(env, ppo, 1, 1, FakeGPU(80 * 10**9))
    assert 0 < est.total < 4 * 10**9


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ({"num_envs": 1_048_576, "batch_size": 1_048_576, "unroll_length": 10_000}, "rollout"),
        ({"policy_hidden_layer_sizes": (65_536,) * 16}, "networks"),
        ({"num_eval_envs": 1_048_576}, "env states"),
    ],
)
def test_a_run_past_the_device_is_refused_in_one_line(override, names):
    env, ppo = get_preset("berkeley_humanoid", "gpu")
    with pytest.raises(ConfigError) as err:
        check_memory(env, ppo.replace(**override), 1, 1, FakeGPU(80 * 10**9))
    text = str(err.value)
    assert "\n" not in text and "more than the device's 80.0 GB" in text and names in text


def test_host_ram_is_shared_by_the_host_devices():
    env, ppo = get_preset("berkeley_humanoid", "cpu")

    class Host:
        """A CPU device: the estimate is compared with the machine's RAM."""

        platform = "cpu"

    est = check_memory(env, ppo, 2, 2, Host())
    assert est.total > 0
    with pytest.raises(ConfigError, match="more than the host's RAM"):
        check_memory(env, ppo.replace(num_eval_envs=1_048_576), 2, 2, Host())


def test_cli_refuses_before_compiling(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "mjx_walker.train", "--preset", "test", "--out", str(out), "--no-progress"]
    cmd += ["--set", "ppo.num_eval_envs=1048576"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "ppo_cfg needs at least" in errors[0] and "ppo.num_eval_envs" in errors[0]
    assert "Traceback" not in done.stderr and not (out / "config.json").exists()
