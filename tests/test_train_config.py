"""Fast training tests (no compile): config checks, presets, overrides, resume refusal, NaN guard."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mjx_walker import run_dir as rd
from mjx_walker.configs import ConfigError, EnvConfig
from mjx_walker.ppo_config import PPOConfig
from mjx_walker.presets import PRESETS, apply_overrides, get_preset
from mjx_walker.robots import ROBOTS
from mjx_walker.training import TrainingDiverged, check_configs, check_finite, train


def test_every_preset_of_every_robot_is_valid_on_1_and_2_devices():
    for robot in ROBOTS:
        for name in PRESETS:
            env, ppo = get_preset(robot, name)
            backend = "gpu" if name == "gpu" else "cpu"  # the CPU presets must also not hang on 2 host devices
            for devices in (1, 2):
                check_configs(env, ppo, devices, backend)
            assert ppo.total_env_steps >= ppo.num_timesteps


def test_unknown_preset_and_robot_are_named():
    with pytest.raises(ConfigError, match=r"preset = 'laptop'.*\['cpu', 'gpu', 'test'\]"):
        get_preset("berkeley_humanoid", "laptop")
    with pytest.raises(ConfigError, match="robot = 'atlas'.*known robots"):
        get_preset("atlas", "cpu")


def test_divisibility_messages_name_field_value_and_valid_values():
    ppo = PPOConfig(num_envs=48, batch_size=32, num_minibatches=4)
    with pytest.raises(ConfigError, match=r"PPOConfig.num_envs = 48.*32 \* 4 = 128.*valid num_envs"):
        ppo.check_devices(1)
    ppo = PPOConfig(num_envs=3, batch_size=3, num_minibatches=4)
    with pytest.raises(ConfigError, match=r"num_envs = 3 .*multiple of the device count 2.*e\.g\. 4"):
        ppo.check_devices(2)
    ppo = PPOConfig(num_envs=4, batch_size=3, num_minibatches=4)
    with pytest.raises(ConfigError, match=r"batch_size = 3 .*multiple of the device count 2"):
        ppo.check_devices(2)
    PPOConfig(num_envs=4, batch_size=4, num_minibatches=4).check_devices(2)


def test_sizes_must_be_positive():
    with pytest.raises(ConfigError, match=r"PPOConfig.num_envs = 0 is invalid"):
        PPOConfig(num_envs=0)
    with pytest.raises(ConfigError, match=r"policy_hidden_layer_sizes"):
        PPOConfig(policy_hidden_layer_sizes=(32, 0))


def test_overrides_parse_types():
    env, ppo = get_preset("berkeley_humanoid", "test")
    env, ppo = apply_overrides(
        env,
        ppo,
        ["ppo.num_envs=32", "push.enabled=True", "ppo.learning_rate=1", "command.episode_length=50"],
    )
    assert ppo.num_envs == 32 and env.push.enabled is True
    assert ppo.learning_rate == 1.0 and isinstance(ppo.learning_rate, float)
    assert env.command.episode_length == 50
    env, _ = apply_overrides(env, ppo, ["command.lin_vel_x=[-0.5, 0.5]"])
    assert env.command.lin_vel_x == (-0.5, 0.5)
    with pytest.raises(ConfigError, match="unknown section 'robt'"):
        apply_overrides(env, ppo, ["robt.name=g1"])
    with pytest.raises(ConfigError, match="PPOConfig has no field 'num_env'"):
        apply_overrides(env, ppo, ["ppo.num_env=3"])
    with pytest.raises(ConfigError, match="expected section.field=value"):
        apply_overrides(env, ppo, ["ppo.num_envs"])
    with pytest.raises(ConfigError, match="PPOConfig.num_envs = -1"):
        apply_overrides(env, ppo, ["ppo.num_envs=-1"])


def test_resume_with_a_changed_config_is_refused_naming_the_fields(tmp_path):
    env, ppo = get_preset("berkeley_humanoid", "test")
    rd.write_config(tmp_path, rd.resolved_config(env, ppo, 1))
    changed_env, changed_ppo = apply_overrides(env, ppo, ["ppo.learning_rate=0.01", "push.enabled=True"])
    with pytest.raises(ConfigError) as err:
        train(changed_env, changed_ppo, tmp_path, resume=True, show_progress=False)
    message = str(err.value)
    assert "ppo.learning_rate: 0.001 -> 0.01" in message
    assert "env.push.enabled: False -> True" in message
    assert "num_envs" not in message


def test_a_new_run_refuses_an_existing_run_dir(tmp_path):
    env, ppo = get_preset("berkeley_humanoid", "test")
    rd.write_config(tmp_path, rd.resolved_config(env, ppo, 1))
    with pytest.raises(FileExistsError, match="--resume"):
        train(env, ppo, tmp_path, show_progress=False)


def test_non_finite_values_stop_training_naming_the_step():
    good = ({"m": np.zeros(3)}, {"w": np.ones(2)}, {"v": np.ones(2)})
    check_finite(10, good, {"training/policy_loss": 0.5, "eval/episode_reward": 1.0})
    with pytest.raises(TrainingDiverged, match=r"env step 20480 in: training/policy_loss"):
        check_finite(20480, good, {"training/policy_loss": math.nan})
    bad = ({"m": np.array([0.0, np.inf])}, {"w": np.ones(2)}, {"v": np.array([np.nan])})
    with pytest.raises(TrainingDiverged, match="step 7 in: observation normalizer, value parameters"):
        check_finite(7, bad, {})


def test_metrics_truncation_drops_later_rows_and_torn_lines(tmp_path):
    for step in (0, 10, 20, 30):
        rd.append_metrics(tmp_path, {"env_steps": step})
    with open(tmp_path / rd.METRICS_FILE, "a") as f:
        f.write('{"env_steps": 4')  # torn write
    assert [r["env_steps"] for r in rd.truncate_metrics(tmp_path, 20)] == [0, 10, 20]
    assert [r["env_steps"] for r in rd.read_metrics(tmp_path)] == [0, 10, 20]


def test_package_train_is_the_function():
    import mjx_walker

    if mjx_walker.__file__ is None:  # the venv's editable install maps the package as a namespace
        pytest.skip("mjx_walker imported as a namespace package (stale editable install): reinstall")
    from mjx_walker import train as package_train
    from mjx_walker.training import train as impl

    assert package_train is impl


def test_default_env_config_is_used_by_presets():
    env, _ = get_preset("g1", "gpu")
    assert env == EnvConfig(robot=env.robot)


@pytest.mark.parametrize("limit", [0, -5.0, float("nan")])
def test_a_bad_time_limit_is_refused_before_anything_runs(tmp_path, limit):
    env, ppo = get_preset("berkeley_humanoid", "test")
    with pytest.raises(ConfigError, match=r"time_limit_s = .* expected seconds > 0"):
        train(env, ppo, tmp_path / "run", show_progress=False, time_limit_s=limit)
    assert not (tmp_path / "run").exists()  # refused before the run dir was made
