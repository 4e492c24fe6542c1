"""Named training presets per robot (``gpu``, ``cpu``, ``test``) and ``--set`` overrides.

* ``gpu``: the full run meant to produce a walking policy on one GPU (thousands of envs, 100M+
  env steps, default env config with randomization, pushes and noise).
* ``cpu``: the walking recipe for a 2-core laptop, in two stages (:func:`get_stages`): the recipe of
  :func:`cpu_walk_preset` (64 envs, 5 physics substeps) with vx -0.3..0.8 m/s for 6M env steps,
  then :func:`cpu_finish_stage` (forward commands up to 0.6 m/s, the command box's ends
  over-sampled, a lower learning rate) for 1.5M; ``experiments/cpu_walk.py`` judged every
  checkpoint against the walking bar.
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
    RewardConfig,
    RobotConfig,
    SimConfig,
)
from mjx_walker.ppo_config import PPOConfig
from mjx_walker.robots import ROBOTS

PRESETS: dict[str, str] = {
    "gpu": "full run on one GPU: 8192 envs, 200M+ env steps, meant to produce a walking policy",
    "cpu": "the 2-core CPU walking recipe: MuJoCo C physics, 64 envs, 5 substeps, 6M + 1.5M env steps in 2 stages",
    "test": "seconds to minutes: reduced standing task, 16 envs, tiny networks (for tests)",
}

# Presets that promise a walking policy judge the last stage's last few checkpoints in MuJoCo C at
# the walking bar's conditions and keep the best (mjx_walker.selection; the CLI's --no-select keeps
# the last). The cpu preset's finish stage writes three.
SELECT_CHECKPOINTS: dict[str, int] = {"cpu": 3}

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


def cpu_walk_preset(robot: str) -> tuple[EnvConfig, PPOConfig]:
    """The 2-core CPU walking recipe (experiments/cpu_walk.py records how it was found).

    Against the GPU defaults: MuJoCo C physics (``sim.backend="mujoco"``, one XLA device, the
    rollout pool on every core: several times MJX's speed on a CPU), 5 physics substeps instead of
    10 (sim_dt 4 ms; lag still 0-16 ms), a sharper velocity kernel (sigma 0.25) worth more, so that
    standing still under a walking command pays little; the gait clock asks for stepping at every
    command (no stand-still pose term); narrower command ranges and gentler pushes; and a PPO shape
    for 2 cores: 64 envs, 64 gradient steps on every 20,480 samples. (The recipe was found on MJX,
    where 64 envs were 2 host devices x 32, the most that cannot hang.)
    """
    env = EnvConfig(
        robot=RobotConfig(name=robot),
        sim=SimConfig(sim_dt=0.004, backend="mujoco"),
        command=CommandConfig(lin_vel_x=(-0.5, 0.8), lin_vel_y=(-0.3, 0.3), yaw_rate=(-0.7, 0.7)),
        push=PushConfig(magnitude=(0.1, 0.5)),
        reward=RewardConfig(
            tracking_lin_vel=1.5,
            tracking_ang_vel=0.75,
            tracking_sigma=0.25,
            stand_still=0.0,
            step_in_place=True,
        ),
        randomization=RandomizationConfig(lag_substeps=(0, 4)),
    )
    ppo = PPOConfig(
        num_timesteps=20_000_000,
        num_envs=64,
        num_eval_envs=32,
        num_evals=21,
        unroll_length=20,
        batch_size=64,
        num_minibatches=16,
        num_updates_per_batch=4,
        entropy_cost=5e-3,
        policy_hidden_layer_sizes=(256, 128, 64),
        value_hidden_layer_sizes=(256, 256, 128),
    )
    return env, ppo


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a preset: its name (the sub-directory of the run it trains in) and configs."""

    name: str
    env: EnvConfig
    ppo: PPOConfig


def cpu_finish_stage(env: EnvConfig, ppo: PPOConfig) -> tuple[EnvConfig, PPOConfig]:
    """The cpu preset's second stage, from the first one's configs (experiments/cpu_walk.py, ``fwd06_ft``).

    Forward commands up to 0.6 m/s (vx 0..0.6; vy and yaw rate as before: the first stage falls
    walking backward and at its fast, sideways corners), a third of each command component drawn at
    an end of its range (the corners), and a learning rate of 1e-4 (a third), for 1.5M env steps.
    """
    command = dataclasses.replace(env.command, lin_vel_x=(0.0, 0.6), edge_prob=0.3)
    return dataclasses.replace(env, command=command), ppo.replace(
        learning_rate=1e-4, num_timesteps=1_536_000, num_evals=4
    )


def get_stages(robot: str, name: str) -> list[Stage]:
    """Every stage of preset ``name`` for ``robot``, in order (one for most presets).

    A later stage starts from the previous one's final checkpoint (``train(init_from=...)``); the
    CLI trains them one after another (:func:`mjx_walker.training.train_stages`).
    """
    env, ppo = get_preset(robot, name)
    stages = [Stage("main", env, ppo)]
    if name == "cpu":
        stages.append(Stage("finish", *cpu_finish_stage(env, ppo)))
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
        env = EnvConfig(robot=RobotConfig(name=robot))
        ppo = PPOConfig(num_timesteps=_GPU_STEPS.get(robot, 200_000_000))
    elif name == "cpu":
        env, ppo = cpu_walk_preset(robot)
        # first stage: the back_0.3 variant of the recipe (narrower backward range), cut to 6M env steps
        env = dataclasses.replace(env, command=dataclasses.replace(env.command, lin_vel_x=(-0.3, 0.8)))
        ppo = ppo.replace(num_timesteps=6_021_120, num_evals=7)
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
        value = _parse_value(text.strip(), getattr(target, name), f"{type(target).__name__}.{name}")
        if section == "ppo":
            ppo_changes[name] = value
        else:
            env_changes.setdefault(section, {})[name] = value
    sections = {s: dataclasses.replace(getattr(env_cfg, s), **c) for s, c in env_changes.items()}
    return dataclasses.replace(env_cfg, **sections), dataclasses.replace(ppo_cfg, **ppo_changes)
