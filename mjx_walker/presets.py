"""Named training presets per robot (``gpu``, ``cpu``, ``test``) and ``--set`` overrides.

The walking recipe is ``EnvConfig()``'s defaults (:func:`recipe_env`); ``gpu`` and ``cpu`` are
that recipe in two stages (:func:`get_stages`), differing only in physics backend and batch shape:

* ``gpu``: MJX physics and Playground's GPU shape (8192 envs, 163,840 env steps per round), as
  many gradient steps as the CPU recipe: 24.1M env steps, then :func:`finish_stage` for 5.9M.
* ``cpu``: MuJoCo C physics and a 2-core shape (64 envs, 20,480 env steps per round): 6M env
  steps, then :func:`finish_stage` (forward commands up to 0.6 m/s, the command box's ends
  over-sampled, a lower learning rate) for 1.5M; ``experiments/cpu_walk.py`` and
  ``experiments/recipe_seeds.py`` judged it against the walking bar.
* ``test``: seconds to minutes, for tests: a reduced standing task (zero commands, no pushes,
  no randomization or noise, short episodes), tiny networks, 16 envs.
"""

from __future__ import annotations

import ast
import dataclasses
import math
from typing import Any

from mjx_walker.configs import (
    CommandConfig,
    ConfigError,
    EnvConfig,
    NoiseConfig,
    PushConfig,
    RandomizationConfig,
    RobotConfig,
    SimConfig,
)
from mjx_walker.ppo_config import PPOConfig
from mjx_walker.robots import ROBOTS

PRESETS: dict[str, str] = {
    "gpu": "the walking recipe on one GPU: MJX physics, 8192 envs, 24M + 5.9M env steps in 2 stages",
    "cpu": "the 2-core CPU walking recipe: MuJoCo C physics, 64 envs, 5 substeps, 6M + 1.5M env steps in 2 stages",
    "test": "seconds to minutes: reduced standing task, 16 envs, tiny networks (for tests)",
}

# Presets that promise a walking policy judge the last stage's last few checkpoints in MuJoCo C at
# the walking bar's conditions and keep the best (mjx_walker.selection; the CLI's --no-select keeps
# the last). Their finish stages write four and five checkpoints.
SELECT_CHECKPOINTS: dict[str, int] = {"cpu": 3, "gpu": 3}

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


def recipe_env(robot: str, backend: str = "mjx") -> EnvConfig:
    """The walking recipe's env for ``robot``: ``EnvConfig()``'s defaults, on the physics ``backend``.

    Every preset that trains walking starts here, so the recipe lives in one place (the config
    defaults); ``tests/test_presets.py`` fails if a preset drifts from it.
    """
    return EnvConfig(robot=RobotConfig(name=robot), sim=SimConfig(backend=backend))


# The CPU shape: 64 envs (one XLA device, the MuJoCo C rollout pool on every core), 64 x 16
# minibatches x unroll 20 = 20,480 env steps and 64 gradient steps per round.
CPU_SHAPE = dict(num_envs=64, num_eval_envs=32, unroll_length=20, batch_size=64, num_minibatches=16)


def cpu_walk_preset(robot: str) -> tuple[EnvConfig, PPOConfig]:
    """The single-stage 2-core recipe that ``experiments/cpu_walk.py`` varies (20M env steps, vx -0.5..0.8).

    The recipe's env on MuJoCo C physics (``sim.backend="mujoco"``: several times MJX's speed on a
    CPU) with its first, wider backward range, and the CPU shape. (The recipe was found on MJX, where
    64 envs were 2 host devices x 32, the most that cannot hang.)
    """
    env = recipe_env(robot, backend="mujoco")
    env = dataclasses.replace(env, command=dataclasses.replace(env.command, lin_vel_x=(-0.5, 0.8)))
    return env, PPOConfig(num_timesteps=20_000_000, num_evals=21, **CPU_SHAPE)


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a preset: its name (the sub-directory of the run it trains in) and configs."""

    name: str
    env: EnvConfig
    ppo: PPOConfig


def finish_stage(env: EnvConfig, ppo: PPOConfig, num_timesteps: int, num_evals: int) -> tuple[EnvConfig, PPOConfig]:
    """The walking recipe's second stage, from the first one's configs (experiments/cpu_walk.py, ``fwd06_ft``).

    Forward commands up to 0.6 m/s (vx 0..0.6; vy and yaw rate as before: the first stage falls
    walking backward and at its fast, sideways corners), a third of each command component drawn at
    an end of its range (the corners), and a learning rate of 1e-4 (a third). On 2 CPU cores it
    is 1.5M env steps, 75 rounds of 64 gradient steps; a GPU shape keeps that gradient-step count.
    """
    command = dataclasses.replace(env.command, lin_vel_x=(0.0, 0.6), edge_prob=0.3)
    return dataclasses.replace(env, command=command), ppo.replace(
        learning_rate=1e-4, num_timesteps=num_timesteps, num_evals=num_evals
    )


# (env steps, evals) of the finish stage per preset: 75 rounds of 20,480 on the CPU; 36 rounds of
# 163,840 on a GPU (4,608 gradient steps against the CPU's 4,800).
FINISH = {"cpu": (1_536_000, 4), "gpu": (5_898_240, 5)}


def get_stages(robot: str, name: str) -> list[Stage]:
    """Every stage of preset ``name`` for ``robot``, in order (one for most presets).

    A later stage starts from the previous one's final checkpoint (``train(init_from=...)``); the
    CLI trains them one after another (:func:`mjx_walker.training.train_stages`).
    """
    env, ppo = get_preset(robot, name)
    stages = [Stage("main", env, ppo)]
    if name in FINISH:
        stages.append(Stage("finish", *finish_stage(env, ppo, *FINISH[name])))
    return stages


def get_preset(robot: str, name: str) -> tuple[EnvConfig, PPOConfig]:
    """The (env, PPO) configs of preset ``name`` for ``robot`` (its first stage, see :func:`get_stages`).

    ConfigError lists valid names.
    """
    if robot not in ROBOTS:
        raise ConfigError(f"robot = {robot!r} is invalid: known robots are {sorted(ROBOTS)}")
    if name not in PRESETS:
        raise ConfigError(f"preset = {name!r} is invalid: known presets are {sorted(PRESETS)}")
    if name == "gpu":
        env, ppo = recipe_env(robot), PPOConfig()
    elif name == "cpu":
        # 294 rounds of 20,480 env steps, an eval every 49
        env, ppo = recipe_env(robot, backend="mujoco"), PPOConfig(num_timesteps=6_021_120, num_evals=7, **CPU_SHAPE)
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


_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def parse_bool(text: str, where: str) -> bool:
    """``text`` as a bool: true/false, 1/0 or yes/no in any case; ConfigError naming ``where`` else."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    allowed = ", ".join(f"{t}/{f}" for t, f in zip(_TRUE, _FALSE, strict=True))
    raise ConfigError(f"{where} = {text!r} is invalid: expected a boolean: {allowed} (any case)")


def _parse_value(text: str, current: Any, where: str = "value") -> Any:
    """Parse an override value like the field's current value (bools strictly); lists -> tuples.

    Anything else is read as a Python literal; bare words stay strings (the config then checks them).
    """
    if isinstance(current, bool):
        return parse_bool(text, where)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = text
    if isinstance(current, str) and not isinstance(value, str):
        value = text  # a name: "True" or "{}" stays the text the user typed
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value) if abs(value) < 2**1023 else math.copysign(math.inf, value)
    return value


def apply_overrides(env_cfg: EnvConfig, ppo_cfg: PPOConfig, overrides: list[str]) -> tuple[EnvConfig, PPOConfig]:
    """Apply ``section.field=value`` overrides; each config is validated again."""
    env_changes: dict[str, dict[str, Any]] = {}
    ppo_changes: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot:
            raise ConfigError(f"override {item!r} is invalid: expected section.field=value")
        if key.strip() in seen:
            raise ConfigError(
                f"override {item!r}: {key.strip()} is already set by {seen[key.strip()]!r}; give each field once"
            )
        seen[key.strip()] = item
        if section not in SECTIONS:
            raise ConfigError(f"override {item!r}: unknown section {section!r}; sections are {SECTIONS}")
        target = ppo_cfg if section == "ppo" else getattr(env_cfg, section)
        fields = {f.name for f in dataclasses.fields(target)}
        if name not in fields:
            raise ConfigError(
                f"override {item!r}: {type(target).__name__} has no field {name!r}; fields are {sorted(fields)}"
            )
        value = _parse_value(text.strip(), getattr(target, name), f"{type(target).__name__}.{name}")
        if section == "ppo":
            ppo_changes[name] = value
        else:
            env_changes.setdefault(section, {})[name] = value
    sections = {s: dataclasses.replace(getattr(env_cfg, s), **c) for s, c in env_changes.items()}
    return dataclasses.replace(env_cfg, **sections), dataclasses.replace(ppo_cfg, **ppo_changes)
