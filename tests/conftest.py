"""Shared test set-up: a persistent JAX compilation cache and session-scoped compiled envs."""

from __future__ import annotations

import os
from pathlib import Path

import jax
import pytest

# Repeated compiles of the same functions (across tests and CI runs) come from disk.
_CACHE = Path(os.environ.get("MJX_WALKER_JAX_CACHE", Path(__file__).resolve().parent.parent / ".jax_cache"))
jax.config.update("jax_compilation_cache_dir", str(_CACHE))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


@pytest.fixture(scope="session")
def default_env():
    """The default WalkEnv (Berkeley Humanoid, default configs), built once per session."""
    from mjx_walker.env import WalkEnv

    return WalkEnv()
