"""Adapter from :class:`~mjx_walker.env.WalkEnv` to Brax's ``Env`` and its training wrappers.

Brax's own ``AutoResetWrapper`` caches the first reset state and copies it back into every env
that finishes, so an env slot would replay the same physics parameters, command and start pose
forever. :class:`ResamplingAutoReset` instead calls the environment's ``reset`` with a fresh key
for every finished env, inside the jitted step, so each new episode draws new friction, masses,
lag and gains, on the terrain level the curriculum gives it (:mod:`mjx_walker.curriculum`).
Brax's ``VmapWrapper`` and ``EpisodeWrapper`` are used as they are.

Brax's ``State.info`` dict is Brax's interface; the environment's own state is the typed
:class:`~mjx_walker.state.EnvState`, carried as ``pipeline_state``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from brax.envs.base import Env as BraxEnv
from brax.envs.base import State as BraxState
from brax.envs.wrappers.training import EpisodeWrapper, VmapWrapper, Wrapper

from mjx_walker import curriculum
from mjx_walker.env import WalkEnv
from mjx_walker.state import Observation

ACTOR_KEY = "state"  # Brax's default policy observation key
CRITIC_KEY = "privileged_state"
# Env metric: 1.0 at a step whose physics went non-finite (the env is then reset). Brax's evaluator
# sums it over each eval episode (0 or 1: that step ends the episode) and averages over the eval
# envs, so ``eval/episode_<this>`` is the share of eval episodes that ended in non-finite physics.
NONFINITE_METRIC = "health/nonfinite_resets"


def _obs_dict(obs: Observation) -> dict[str, jax.Array]:
    """Brax's observation dict: actor under 'state', critic under 'privileged_state'."""
    return {ACTOR_KEY: obs.actor, CRITIC_KEY: obs.critic}


class BraxWalkEnv(BraxEnv):
    """A single (unbatched) WalkEnv behind Brax's Env interface."""

    def __init__(self, env: WalkEnv) -> None:
        """Wrap a built WalkEnv."""
        self.env = env

    def reset(self, rng: jax.Array) -> BraxState:
        """Reset one env."""
        state, obs = self.env.reset(rng)
        zero = jnp.float32(0.0)
        metrics = {f"reward/{k}": zero for k in self.env.cfg.reward.term_names}
        metrics[NONFINITE_METRIC] = zero
        return BraxState(pipeline_state=state, obs=_obs_dict(obs), reward=zero, done=zero, metrics=metrics)

    def step(self, state: BraxState, action: jax.Array) -> BraxState:
        """Step one env."""
        env_state, out = self.env.step(state.pipeline_state, action)
        # Keep keys wrappers added (Brax's EvalWrapper adds "reward"): same pytree in and out.
        metrics = {**state.metrics, **{f"reward/{k}": v for k, v in out.reward_terms.items()}}
        metrics[NONFINITE_METRIC] = out.nonfinite
        return state.replace(
            pipeline_state=env_state, obs=_obs_dict(out.obs), reward=out.reward, done=out.done, metrics=metrics
        )

    @property
    def observation_size(self) -> dict[str, tuple[int]]:
        """Sizes of the actor and critic observations."""
        return {ACTOR_KEY: (self.env.actor_layout.size,), CRITIC_KEY: (self.env.critic_layout.size,)}

    @property
    def action_size(self) -> int:
        """Number of actions."""
        return self.env.action_size

    @property
    def backend(self) -> str:
        """Physics backend name."""
        return "mjx"


class ResamplingAutoReset(Wrapper):
    """Auto-reset that draws a fresh episode (new randomization) for every finished env."""

    def reset(self, rng: jax.Array) -> BraxState:
        """Reset the batch; nothing is cached."""
        return self.env.reset(rng)

    def step(self, state: BraxState, action: jax.Array) -> BraxState:
        """Step the batch; envs that finished are replaced by fresh resets with new keys."""
        if "steps" in state.info:
            state.info["steps"] = jnp.where(state.done > 0, 0.0, state.info["steps"])
        state = state.replace(done=jnp.zeros_like(state.done))
        state = self.env.step(state, action)
        done = state.done > 0

        def fresh(_: None) -> tuple[Any, Any]:
            """Reset every env with a key derived from its own stream, keep the finished ones."""
            keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(state.pipeline_state.rng)
            levels = self._next_levels(state)
            new_state, new_obs = jax.vmap(self.unwrapped_walk_env.reset)(keys, levels)
            new_obs = _obs_dict(new_obs)

            def pick(x: jax.Array, y: jax.Array) -> jax.Array:
                """Where done, the reset value x; else the stepped value y."""
                return jnp.where(done.reshape(done.shape + (1,) * (x.ndim - 1)), x, y)

            return jax.tree.map(pick, new_state, state.pipeline_state), jax.tree.map(pick, new_obs, state.obs)

        def keep(_: None) -> tuple[Any, Any]:
            """No env finished: keep everything."""
            return state.pipeline_state, state.obs

        pipeline_state, obs = jax.lax.cond(jnp.any(done), fresh, keep, None)
        return state.replace(pipeline_state=pipeline_state, obs=obs)

    def _next_levels(self, state: BraxState) -> jax.Array:
        """(n,) int32: each env's terrain level for its next episode (mjx_walker.curriculum).

        An episode cut by the time limit (``truncation``) ended standing; any other end is a fall.
        """
        env_state = state.pipeline_state
        walked = jnp.linalg.norm(env_state.data.qpos[:, 0:2] - env_state.origin_xy, axis=-1)
        fell = state.info["truncation"] <= 0 if "truncation" in state.info else jnp.zeros_like(walked, bool)
        step = functools.partial(curriculum.next_level, self.unwrapped_walk_env.cfg.terrain)
        return jax.vmap(step)(env_state.terrain_level, walked, fell)

    @property
    def unwrapped_walk_env(self) -> WalkEnv:
        """The WalkEnv at the bottom of the wrapper stack."""
        return self.env.unwrapped.env


def wrap_for_training(
    env: BraxEnv,
    episode_length: int = 1000,
    action_repeat: int = 1,
    randomization_fn: Callable[..., Any] | None = None,
) -> Wrapper:
    """Brax ``wrap_env_fn``: vmap, episode limit, and auto-reset with fresh randomization."""
    if randomization_fn is not None:
        raise ValueError(
            "randomization_fn is not used: mjx_walker randomizes physics inside reset "
            "(RandomizationConfig), freshly for every episode"
        )
    return ResamplingAutoReset(EpisodeWrapper(VmapWrapper(env), episode_length, action_repeat))
