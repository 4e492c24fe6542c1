"""Shared test set-up: a persistent JAX compilation cache and session-scoped compiled envs."""

from __future__ import annotations

import jax
import pytest

from mjx_walker.jax_cache import enable_compilation_cache

# Repeated compiles of the same functions (across tests, subprocesses and CI runs) come from disk.
enable_compilation_cache()


@pytest.fixture(scope="session")
def default_env():
    """The default WalkEnv (Berkeley Humanoid, default configs), built once per session."""
    from mjx_walker.env import WalkEnv

    return WalkEnv()


@pytest.fixture(scope="session")
def nominal_env():
    """A WalkEnv with no randomization, no observation noise and no pushes."""
    from mjx_walker.configs import EnvConfig, NoiseConfig, PushConfig, RandomizationConfig
    from mjx_walker.env import WalkEnv

    cfg = EnvConfig(
        randomization=RandomizationConfig.nominal(),
        noise=NoiseConfig(level=0.0),
        push=PushConfig(enabled=False),
    )
    return WalkEnv(cfg)


@pytest.fixture(scope="session")
def batched(default_env):
    """Jitted, vmapped reset and step of the default env (compiled once per session)."""
    return jax.jit(jax.vmap(default_env.reset)), jax.jit(jax.vmap(default_env.step))
