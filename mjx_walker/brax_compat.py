"""Compatibility of brax 0.14.2 with the jax versions pyproject.toml admits (0.10.2 to 0.11.x).

Brax's PPO trainer calls ``jax.device_put_replicated``, which jax 0.10 removed from its public
namespace (0.11.2 lacks it too). :func:`patch_jax_for_brax` puts back a version that returns
exactly what a ``pmap`` over Brax's pmap axis ``'i'`` returns (it is an identity pmap): strongly
typed, pmap-sharded. jax's own internal implementation returns unsharded arrays with weak types kept, so the training
state fed to Brax's first epoch differed from the one its second call gets back from ``pmap``, and
the epoch compiled twice (about 40 s lost per run on a 2-core CPU; seen with
``JAX_EXPLAIN_CACHE_MISSES=1``). Nothing is put back on a jax that still has the function.

Brax's ``acting.Evaluator`` keeps each eval's final env state to donate to the next eval. The
first one comes from a plain ``jit(reset)``; every later one comes back from the eval unroll on
the mesh of the pmapped policy parameters, so the second eval traced and compiled the whole eval
unroll again (measured on the ``test`` preset, 2-core CPU: 99 s cold, about 20 s with the
persistent cache, in every ``train`` call). :class:`SteadyEvaluator` commits the first state to
its own shardings and puts each kept state back on them: one trace, one compile.
:func:`brax_patched` installs both for the duration of our training call only, where Brax's PPO
looks them up, and restores Brax's and jax's own objects after it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import numpy as np
from brax.training import acting

PMAP_AXIS = "i"  # brax.training.agents.ppo.train._PMAP_AXIS_NAME


def device_put_replicated(tree: Any, devices: Sequence[jax.Device]) -> Any:
    """Every leaf of ``tree`` stacked once per device, as an identity ``pmap`` over 'i' returns it."""
    stacked = jax.tree.map(lambda leaf: np.stack([np.asarray(leaf)] * len(devices)), tree)  # no weak types
    return jax.pmap(lambda t: t, axis_name=PMAP_AXIS, devices=list(devices))(stacked)


class SteadyEvaluator(acting.Evaluator):
    """Brax's evaluator, with the eval state it keeps between evals always on the same shardings."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Build Brax's evaluator; commit its first eval state to that state's own shardings."""
        super().__init__(*args, **kwargs)
        # Committed from the start: Brax's first state is uncommitted, which compiles apart too.
        self._shardings = jax.tree.map(lambda x: x.sharding, self._eval_state_to_donate)
        self._eval_state_to_donate = jax.device_put(self._eval_state_to_donate, self._shardings)

    def run_evaluation(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """One evaluation (Brax's); the state kept for the next one goes back on the first shardings."""
        metrics = super().run_evaluation(*args, **kwargs)
        self._eval_state_to_donate = jax.device_put(self._eval_state_to_donate, self._shardings)
        return metrics


@contextlib.contextmanager
def brax_patched() -> Iterator[None]:
    """Within the block: jax's ``device_put_replicated`` for Brax (if this jax lacks it) and the steady evaluator.

    Both go back on exit, however the block ends: another Brax user in the same process (a
    notebook, say) gets Brax's and jax's own objects outside our ``train`` call.
    """
    own_evaluator = acting.Evaluator
    had_replicated = hasattr(jax, "device_put_replicated")
    if not had_replicated:
        jax.device_put_replicated = device_put_replicated  # type: ignore[attr-defined]
    acting.Evaluator = SteadyEvaluator  # ppo.train looks it up as acting.Evaluator at each call
    try:
        yield
    finally:
        acting.Evaluator = own_evaluator
        if not had_replicated:
            del jax.device_put_replicated
