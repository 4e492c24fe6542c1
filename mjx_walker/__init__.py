"""mjx_walker: humanoid walking with massively parallel RL on MuJoCo MJX, from training to robot."""

from __future__ import annotations

from typing import Any

from mjx_walker.configs import (
    CommandConfig,
    ConfigError,
    EnvConfig,
    NoiseConfig,
    PushConfig,
    RandomizationConfig,
    RewardConfig,
    RobotConfig,
    SimConfig,
)
from mjx_walker.ppo_config import PPOConfig

__all__ = [
    "CommandConfig",
    "ConfigError",
    "EnvConfig",
    "NoiseConfig",
    "PPOConfig",
    "PushConfig",
    "RandomizationConfig",
    "RewardConfig",
    "RobotConfig",
    "SimConfig",
    "train",
]


def train(*args: Any, **kwargs: Any) -> Any:
    """Train a walking policy with Brax PPO; see :func:`mjx_walker.train.train`."""
    from mjx_walker.train import train as _train

    return _train(*args, **kwargs)
