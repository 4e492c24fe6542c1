"""mjx_walker: humanoid walking with massively parallel RL on MuJoCo MJX, from training to robot."""

from __future__ import annotations

from typing import Any

from mjx_walker._quiet import silence_warp_notice
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

# mujoco prints "Failed to import warp" twice when its optional warp backend is absent; every CLI
# (python -m mjx_walker.X) imports this package first, before anything imports mujoco.mjx.
silence_warp_notice()

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
    "train_stages",
]


def __getattr__(name: str) -> Any:
    """Lazy ``train`` and ``train_stages`` (from :mod:`mjx_walker.training`): importing the package starts no JAX.

    The CLI must set ``XLA_FLAGS`` (host device count) before JAX initializes.
    """
    if name == "train":
        from mjx_walker.training import train

        return train
    if name == "train_stages":
        from mjx_walker.training import train_stages

        return train_stages
    raise AttributeError(f"module 'mjx_walker' has no attribute {name!r}")
