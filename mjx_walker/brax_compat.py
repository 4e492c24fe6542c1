"""Compatibility of brax 0.14.2 with the jax versions pyproject.toml admits (0.10.2 to 0.11.x).

Brax's PPO trainer calls ``jax.device_put_replicated``, which jax 0.10 removed from its public
namespace (0.11.2 lacks it too). :func:`patch_jax_for_brax` puts back a version that returns
exactly what a ``pmap`` over Brax's pmap axis ``'i'`` returns (it is an identity pmap): strongly
typed, pmap-sharded. jax's own internal implementation returns unsharded arrays with weak types kept, so the training
state fed to Brax's first epoch differed from the one its second call gets back from ``pmap``, and
the epoch compiled twice (about 40 s lost per run on a 2-core CPU; seen with
``JAX_EXPLAIN_CACHE_MISSES=1``). One recompile is left, inside Brax: its evaluator keeps the
previous eval's env state, which comes back sharded after the first eval (about 35 s once).
Does nothing on a jax that still has the function.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

PMAP_AXIS = "i"  # brax.training.agents.ppo.train._PMAP_AXIS_NAME


def device_put_replicated(tree: Any, devices: Sequence[jax.Device]) -> Any:
    """Every leaf of ``tree`` stacked once per device, as an identity ``pmap`` over 'i' returns it."""
    stacked = jax.tree.map(lambda leaf: np.stack([np.asarray(leaf)] * len(devices)), tree)  # no weak types
    return jax.pmap(lambda t: t, axis_name=PMAP_AXIS, devices=list(devices))(stacked)


def patch_jax_for_brax() -> None:
    """Give jax a ``device_put_replicated`` for Brax if this jax no longer exports one."""
    try:
        jax.device_put_replicated  # noqa: B018
    except AttributeError:
        jax.device_put_replicated = device_put_replicated  # type: ignore[attr-defined]
