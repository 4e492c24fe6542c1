"""Compatibility of brax 0.14.2 with jax 0.10.2 (pinned together in pyproject.toml).

Brax's PPO trainer calls ``jax.device_put_replicated``, which jax 0.10 removed from its public
namespace (the implementation is still in ``jax._src.api``). :func:`patch_jax_for_brax` puts it
back before training; it does nothing when jax still has it.
"""

from __future__ import annotations

import jax


def patch_jax_for_brax() -> None:
    """Restore ``jax.device_put_replicated`` for Brax if this jax no longer exports it."""
    try:
        jax.device_put_replicated  # noqa: B018
    except AttributeError:
        from jax._src import api

        jax.device_put_replicated = api.device_put_replicated  # type: ignore[attr-defined]
