"""What a training run will hold in memory, estimated before anything compiles, against what there is.

A config can pass every field's check and still need more memory than any machine has: a million
envs unrolled for 10,000 steps, or 65,536-unit layers. XLA would say so only after minutes of
compiling, in a long allocator trace, or the host would start swapping. :func:`check_memory`
refuses such a run in one line, naming the settings that drive the estimate.

The estimate counts the large buffers, per device (on a CPU every host device shares the machine's
RAM, so their sum is compared with it):

- the rollout Brax collects each round, and its shuffled copy for the minibatches: per env step,
  the actor and critic observations and the next ones, the action, its raw sample, log-probability,
  reward, discount and truncation flag, in float32;
- the env states of the training and eval envs (the MJX ``Data`` of one env, measured from the
  robot's model), twice for the step's input and output; with MuJoCo C physics each env also holds
  its own ``MjModel``;
- the eval's unroll of one episode;
- the networks: parameters, gradients and Adam's two moments, and each minibatch's activations.

It is a lower bound on what XLA allocates (temporaries are not counted), so a refused run would
certainly not fit; one that passes may still run short on a device shared with other work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from mjx_walker.configs import ConfigError, EnvConfig
from mjx_walker.ppo_config import PPOConfig

F32 = 4  # bytes
# Brax's per-env-step floats besides the observations: action and raw action (nu each), log-prob,
# reward, discount, truncation
EXTRA_FLOATS = 4


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per device of each large buffer of a training run."""

    rollout: int  # the round's collected env steps, and their shuffled copy
    env_states: int  # training and eval envs' states, in and out of a step
    eval_unroll: int  # one eval episode's transitions
    networks: int  # parameters, gradients, Adam moments and minibatch activations

    @property
    def total(self) -> int:
        """All of it, bytes per device."""
        return self.rollout + self.env_states + self.eval_unroll + self.networks


def mlp_params(sizes: tuple[int, ...], n_in: int, n_out: int) -> int:
    """Weights and biases of an MLP ``n_in`` -> ``sizes`` -> ``n_out``."""
    dims = (n_in, *sizes, n_out)
    return sum(a * b + b for a, b in zip(dims[:-1], dims[1:], strict=True))


def estimate(
    ppo: PPOConfig,
    episode_length: int,
    sizes: tuple[int, int, int],
    env_bytes: tuple[int, int],
    devices: int,
) -> MemoryEstimate:
    """The per-device buffers of ``ppo``; ``sizes``: (actor floats, critic floats, nu actions).

    ``env_bytes``: (one env's state, one env's own model: 0 on MJX); ``devices``: the devices the
    envs and the batch are split over.
    """
    actor, critic, nu = sizes
    step_floats = 2 * (actor + critic) + 2 * nu + EXTRA_FLOATS
    rollout = 2 * ppo.env_steps_per_training_step // devices * step_floats * F32
    envs = (ppo.num_envs + ppo.num_eval_envs) // devices
    eval_unroll = ppo.num_eval_envs // devices * episode_length * step_floats * F32
    params = mlp_params(ppo.policy_hidden_layer_sizes, actor, 2 * nu) + mlp_params(
        ppo.value_hidden_layer_sizes, critic, 1
    )
    minibatch = ppo.batch_size * ppo.unroll_length // devices
    width = sum(ppo.policy_hidden_layer_sizes) + sum(ppo.value_hidden_layer_sizes)
    networks = 4 * params * F32 + 3 * minibatch * width * F32  # forward and backward activations
    return MemoryEstimate(
        rollout=rollout,
        env_states=envs * (2 * env_bytes[0] + env_bytes[1]),
        eval_unroll=eval_unroll,
        networks=networks,
    )


def env_sizes(env_cfg: EnvConfig) -> tuple[tuple[int, int, int], tuple[int, int]]:
    """((actor floats, critic floats, nu), (state bytes, model bytes) per env) for ``env_cfg``; no compile."""
    import jax
    from mujoco import mjx

    from mjx_walker.model import build_robot_model
    from mjx_walker.observation import actor_layout, critic_layout

    robot = build_robot_model(env_cfg.robot.name, env_cfg.sim)
    shapes = jax.eval_shape(lambda: mjx.make_data(robot.mj_model))
    data = sum(int(np.prod(x.shape)) * x.dtype.itemsize for x in jax.tree.leaves(shapes))
    model = int(robot.mj_model.nbuffer) if env_cfg.sim.backend == "mujoco" else 0  # each env's own MjModel
    return (actor_layout(robot.nu).size, critic_layout(robot.nu).size, robot.nu), (data, model)


def device_memory(device: object) -> tuple[int | None, bool]:
    """(bytes one device may use, whether devices share it): an accelerator's limit, or the host's RAM."""
    stats = getattr(device, "memory_stats", lambda: None)()
    if getattr(device, "platform", "cpu") != "cpu" and stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"]), False
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), True
    except (ValueError, OSError, AttributeError):
        return None, True


def _gb(n: float) -> str:
    """Bytes as a short text in GB."""
    return f"{n / 1e9:,.1f} GB" if n >= 1e8 else f"{n / 1e6:,.1f} MB"


def check_memory(env_cfg: EnvConfig, ppo_cfg: PPOConfig, devices: int, local: int, device: object) -> MemoryEstimate:
    """Refuse, in one line, a run whose estimate (:func:`estimate`) exceeds ``device``'s memory.

    ``devices``: all devices the run is split over (every process's); ``local``: this process's,
    of the same kind as ``device``. Returns the per-device estimate.
    """
    sizes, env_bytes = env_sizes(env_cfg)
    est = estimate(ppo_cfg, env_cfg.command.episode_length, sizes, env_bytes, devices)
    limit, shared = device_memory(device)
    need = est.total * local if shared else est.total
    if limit is None or need <= limit:
        return est
    parts = {
        "rollout (ppo.batch_size x ppo.num_minibatches x ppo.unroll_length env steps)": est.rollout,
        "env states (ppo.num_envs + ppo.num_eval_envs)": est.env_states,
        "eval episode (ppo.num_eval_envs x command.episode_length)": est.eval_unroll,
        "networks (ppo.*_hidden_layer_sizes)": est.networks,
    }
    scale = local if shared else 1
    big = sorted(parts.items(), key=lambda kv: -kv[1])[:2]
    said = "; ".join(f"{name} {_gb(b * scale)}" for name, b in big)
    where = "the host's RAM" if shared else f"the device's {_gb(limit)}"
    raise ConfigError(
        f"ppo_cfg needs at least {_gb(need)} of memory, more than {where}"
        + (f" ({_gb(limit)})" if shared else "")
        + f": {said}; lower those settings"
    )
