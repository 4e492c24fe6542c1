"""Config validation: every bad value raises before any model is built, naming field and value."""

from __future__ import annotations

import dataclasses

import pytest

from mjx_walker.configs import (
    CommandConfig,
    ConfigError,
    EnvConfig,
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
