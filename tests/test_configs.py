"""Config validation: every bad value raises before any model is built, naming field and value."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from mjx_walker.configs import (
    CommandConfig,
    ConfigError,
    EnvConfig,
    PushConfig,
    RandomizationConfig,
    RewardConfig,
    RobotConfig,
    SimConfig,
    from_dict,
    to_dict,
)


def test_unknown_robot_lists_valid_names():
    with pytest.raises(ConfigError) as err:
        RobotConfig(name="atlas")
    msg = str(err.value)
    assert "RobotConfig.name = 'atlas'" in msg
    for name in ("berkeley_humanoid", "t1", "g1"):
        assert name in msg


def test_inverted_range_names_field_and_bounds():
    with pytest.raises(
        ConfigError, match=r"RandomizationConfig\.friction = \(1\.0, 0\.4\).*lower bound 1\.0 is above upper bound 0\.4"
    ):
        RandomizationConfig(friction=(1.0, 0.4))


def test_negative_range_rejected():
    with pytest.raises(ConfigError, match=r"RandomizationConfig\.mass_scale = \(-0\.5, 1\.0\).*\[0\.01, 10\.0\]"):
        RandomizationConfig(mass_scale=(-0.5, 1.0))
    with pytest.raises(ConfigError, match=r"RandomizationConfig\.lag_substeps = \(-1, 2\).*0 <= low <= high"):
        RandomizationConfig(lag_substeps=(-1, 2))


def test_lag_longer_than_buffer():
    with pytest.raises(
        ConfigError, match=r"lag_substeps = \(0, 12\).*exceeds the target buffer \(max_lag_substeps=10\)"
    ):
        RandomizationConfig(lag_substeps=(0, 12))
    # Raising the buffer makes the same range valid.
    assert RandomizationConfig(lag_substeps=(0, 12), max_lag_substeps=12).lag_substeps == (0, 12)


def test_substeps_must_divide_control_period():
    with pytest.raises(ConfigError, match=r"SimConfig\.sim_dt = 0\.003.*whole number of substeps"):
        SimConfig(ctrl_dt=0.02, sim_dt=0.003)
    assert SimConfig(ctrl_dt=0.02, sim_dt=0.004).n_substeps == 5


def test_scalar_bounds_and_types():
    with pytest.raises(ConfigError, match=r"CommandConfig\.zero_command_prob = 1\.5.*\[0\.0, 1\.0\]"):
        CommandConfig(zero_command_prob=1.5)
    with pytest.raises(ConfigError, match=r"CommandConfig\.episode_length = 10\.5.*integer"):
        CommandConfig(episode_length=10.5)
    with pytest.raises(ConfigError, match=r"RewardConfig\.tracking_sigma = 0\.0"):
        RewardConfig(tracking_sigma=0.0)
    with pytest.raises(ConfigError, match=r"EnvConfig\.robot = .*expected a RobotConfig"):
        EnvConfig(robot=SimConfig())


def test_configs_are_frozen_and_round_trip():
    cfg = EnvConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.robot = RobotConfig()  # type: ignore[misc]
    assert from_dict(EnvConfig, to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match="has no field 'frictoin'"):
        from_dict(RandomizationConfig, {"frictoin": [0.1, 0.2]})


def test_nominal_randomization_has_zero_width_ranges():
    nominal = RandomizationConfig.nominal()
    for f in dataclasses.fields(nominal):
        value = getattr(nominal, f.name)
        if isinstance(value, tuple):
            assert value[0] == value[1], f.name


# ------------------------------------------------------------------ validator gaps
@pytest.mark.parametrize(
    ("cls", "name"),
    [
        (PushConfig, "enabled"),
        (RewardConfig, "step_in_place"),
        (RewardConfig, "clip_total_at_zero"),
    ],
)
@pytest.mark.parametrize("value", ["false", "True", 0, 1, None])
def test_bool_fields_refuse_non_bools(cls, name, value):
    """A string such as "false" is truthy: storing it would silently leave the feature on."""
    with pytest.raises(ConfigError, match=rf"{cls.__name__}\.{name} = {value!r} is invalid: expected a boolean"):
        cls(**{name: value})


@pytest.mark.parametrize("value", [(4, 0), (-1, 2), (1, 2, 3), (1.0, 2.0), (0.5, 2), (True, 2), 5, "0,2", ()])
def test_malformed_lag_substeps_are_refused_naming_field_value_and_rule(value):
    with pytest.raises(ConfigError) as err:
        RandomizationConfig(lag_substeps=value)
    msg = str(err.value)
    assert msg.startswith(f"RandomizationConfig.lag_substeps = {tuple(value) if isinstance(value, tuple) else value!r}")
    assert "expected a pair of integers (low, high) with 0 <= low <= high" in msg


@pytest.mark.parametrize("name", [{}, [], 3, None, ("t1",)])
def test_robot_name_must_be_a_known_string(name):
    with pytest.raises(ConfigError, match=r"RobotConfig\.name = .* is invalid: known robots are \["):
        RobotConfig(name=name)


def test_numpy_scalars_are_accepted_and_stored_as_python_ones():
    rand = RandomizationConfig(
        friction=(np.float32(0.5), np.float64(0.9)),
        lag_substeps=(np.int64(1), np.int32(3)),
        max_lag_substeps=np.int16(8),
    )
    assert rand.lag_substeps == (1, 3) and type(rand.lag_substeps[0]) is int and type(rand.max_lag_substeps) is int
    assert type(rand.friction[0]) is float
    sim = SimConfig(iterations=np.int64(4), ctrl_dt=np.float32(0.02), sim_dt=np.float64(0.004))
    assert sim.iterations == 4 and type(sim.iterations) is int and sim.n_substeps == 5
    push = PushConfig(enabled=np.bool_(False))
    assert push.enabled is False
    cmd = CommandConfig(episode_length=np.int64(50), lin_vel_x=np.array([-0.5, 0.5]).tolist())
    assert cmd.episode_length == 50 and cmd.lin_vel_x == (-0.5, 0.5)
    assert from_dict(EnvConfig, to_dict(EnvConfig(randomization=rand, sim=sim))).randomization == rand
    with pytest.raises(ConfigError, match=r"SimConfig\.iterations = 2\.5 is invalid: expected an integer"):
        SimConfig(iterations=np.float64(2.5))


@pytest.mark.parametrize(
    "override, named",
    [
        ("reward.tracking_lin_vel=1e308", "RewardConfig.tracking_lin_vel = 1e+308"),  # inf in float32
        ("noise.level=1e300", "NoiseConfig.level = 1e+300"),
        ("reward.tracking_sigma=1e-300", "RewardConfig.tracking_sigma = 1e-300"),  # 0 in float32
        ("ppo.reward_scaling=1e-300", "PPOConfig.reward_scaling = 1e-300"),
        ("sim.sim_dt=1e-9", "SimConfig.sim_dt = 1e-09 is invalid: gives 20000000 substeps"),
        ("ppo.num_eval_envs=1000000000", "PPOConfig.num_eval_envs = 1000000000"),
        ("ppo.policy_hidden_layer_sizes=(1000000000,)", "PPOConfig.policy_hidden_layer_sizes = (1000000000,)"),
        ("ppo.unroll_length=10000000", "PPOConfig.unroll_length = 10000000"),
        ("command.episode_length=1000000000000", "beyond"),
    ],
)
def test_values_that_cannot_work_in_float32_or_in_memory_are_refused(override, named):
    from mjx_walker.presets import apply_overrides, get_preset

    env, ppo = get_preset("berkeley_humanoid", "cpu")
    match = "at most 2147483647" if named == "beyond" else re.escape(named)
    with pytest.raises(ConfigError, match=match):
        apply_overrides(env, ppo, [override])


def test_a_host_side_step_count_may_pass_int32():
    from mjx_walker.presets import apply_overrides, get_preset

    env, ppo = get_preset("berkeley_humanoid", "gpu")
    assert apply_overrides(env, ppo, ["ppo.num_timesteps=5000000000"])[1].num_timesteps == 5_000_000_000


def test_a_config_saved_before_a_field_existed_reads_back_without_it():
    """Runs and policies saved before backlash, IMU errors and the symmetric actor keep training as they did."""
    from mjx_walker.configs import EnvConfig, from_dict, to_dict
    from mjx_walker.ppo_config import PPOConfig

    env = to_dict(EnvConfig())
    for name in ("backlash_rad", "gyro_bias", "imu_tilt_rad"):
        del env["randomization"][name]
    old = from_dict(EnvConfig, env).randomization
    assert old.backlash_rad == old.gyro_bias == old.imu_tilt_rad == (0.0, 0.0)
    assert from_dict(EnvConfig, to_dict(EnvConfig())) == EnvConfig()  # today's files read back unchanged
    ppo = to_dict(PPOConfig(symmetric_policy=True))
    assert from_dict(PPOConfig, ppo).symmetric_policy
    del ppo["symmetric_policy"]
    assert not from_dict(PPOConfig, ppo).symmetric_policy
