"""Named training presets per robot (``gpu``, ``cpu``, ``test``) and ``--set`` overrides.

* ``gpu``: the full run meant to produce a walking policy on one GPU (thousands of envs, 100M+
  env steps, default env config with randomization, pushes and noise).
* ``cpu``: what a 2-core laptop does in about 11 minutes (measured): the same task, few envs, small networks,
  ~1M env steps. It learns to stand and shuffle, not to walk well.
* ``test``: seconds to minutes, for tests: a reduced standing task (zero commands, no pushes,
  no randomization or noise, short episodes), tiny networks, 16 envs.
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Any

from mjx_walker.configs import (
    CommandConfig,
    ConfigError,
    EnvConfig,
    NoiseConfig,
    PushConfig,
    RandomizationConfig,
    RobotConfig,
)
from mjx_walker.ppo_config import PPOConfig
from mjx_walker.robots import ROBOTS

PRESETS: dict[str, str] = {
    "gpu": "full run on one GPU: 8192 envs, 200M+ env steps, meant to produce a walking policy",
    "cpu": "about 11 minutes on 2 CPU cores: 64 envs, 1M env steps, small networks",
    "test": "seconds to minutes: reduced standing task, 16 envs, tiny networks (for tests)",
}

# Bigger robots (more joints) get more steps on the GPU.
_GPU_STEPS = {
    "berkeley_humanoid": 200_000_000,
    "t1": 200_000_000,
    "g1": 300_000_000,
    "h1": 300_000_000,
}

SECTIONS = ("robot", "sim", "command", "push", "reward", "randomization", "noise", "ppo")


def standing_env(robot: str, episode_length: int = 100) -> EnvConfig:
    """A reduced balancing task: zero commands, no pushes, nominal physics, no noise."""
    return EnvConfig(
        robot=RobotConfig(name=robot),
        command=CommandConfig(
            lin_vel_x=(0.0, 0.0),
            lin_vel_y=(0.0, 0.0),
            yaw_rate=(0.0, 0.0),
            zero_command_prob=1.0,
            episode_length=episode_length,
        ),
        push=PushConfig(enabled=False),
        randomization=RandomizationConfig.nominal(),
        noise=NoiseConfig(level=0.0),
    )


def get_preset(robot: str, name: str) -> tuple[EnvConfig, PPOConfig]:
    """The (env, PPO) configs of preset ``name`` for ``robot``; ConfigError lists valid names."""
    if robot not in ROBOTS:
        raise ConfigError(f"robot = {robot!r} is invalid: known robots are {sorted(ROBOTS)}")
    if name not in PRESETS:
        raise ConfigError(f"preset = {name!r} is invalid: known presets are {sorted(PRESETS)}")
    if name == "gpu":
        env = EnvConfig(robot=RobotConfig(name=robot))
        ppo = PPOConfig(num_timesteps=_GPU_STEPS.get(robot, 200_000_000))
    elif name == "cpu":
        env = EnvConfig(robot=RobotConfig(name=robot))
        ppo = PPOConfig(
            # ~2,300 env steps/s on 2 cores (measured): 10 epochs x 102,400 steps ~ 7.5 min + ~3.5 min compile
            num_timesteps=1_000_000,
            num_envs=64,
            num_eval_envs=16,
            num_evals=11,
            unroll_length=20,
            batch_size=64,
            num_minibatches=8,
            num_updates_per_batch=4,
            policy_hidden_layer_sizes=(128, 128),
            value_hidden_layer_sizes=(128, 128),
        )
    else:
        env = standing_env(robot)
        ppo = PPOConfig(
            num_timesteps=40_000,
            num_envs=16,
            num_eval_envs=16,
            num_evals=3,
            unroll_length=10,
            batch_size=16,
            num_minibatches=4,
            num_updates_per_batch=4,
            learning_rate=1e-3,
            policy_hidden_layer_sizes=(32, 32),
            value_hidden_layer_sizes=(32, 32),
        )
    return env, ppo


def _parse_value(text: str, current: Any) -> Any:
    """Parse an override value as a Python literal (bare words stay strings); lists -> tuples."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value


def apply_overrides(env_cfg: EnvConfig, ppo_cfg: PPOConfig, overrides: list[str]) -> tuple[EnvConfig, PPOConfig]:
    """Apply ``section.field=value`` overrides; each config is validated again."""
    env_changes: dict[str, dict[str, Any]] = {}
    ppo_changes: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot:
            raise ConfigError(f"override {item!r} is invalid: expected section.field=value")
        if section not in SECTIONS:
            raise ConfigError(f"override {item!r}: unknown section {section!r}; sections are {SECTIONS}")
        target = ppo_cfg if section == "ppo" else getattr(env_cfg, section)
        fields = {f.name for f in dataclasses.fields(target)}
        if name not in fields:
            raise ConfigError(
                f"override {item!r}: {type(target).__name__} has no field {name!r}; fields are {sorted(fields)}"
            )
        value = _parse_value(text.strip(), getattr(target, name))
        if section == "ppo":
            ppo_changes[name] = value
        else:
            env_changes.setdefault(section, {})[name] = value
    sections = {s: dataclasses.replace(getattr(env_cfg, s), **c) for s, c in env_changes.items()}
    return dataclasses.replace(env_cfg, **sections), dataclasses.replace(ppo_cfg, **ppo_changes)
