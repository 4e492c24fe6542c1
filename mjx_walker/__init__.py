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


def __getattr__(name: str) -> Any:
    """Lazy ``train`` (from :mod:`mjx_walker.training`): importing the package starts no JAX.

    The CLI must set ``XLA_FLAGS`` (host device count) before JAX initializes.
    """
    if name == "train":
        from mjx_walker.training import train

        return train
    raise AttributeError(f"module 'mjx_walker' has no attribute {name!r}")
