"""The jax/brax bridge: replicated training state must look exactly like pmap's output."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mjx_walker.brax_compat import device_put_replicated


def test_replicated_state_does_not_retrace_a_pmapped_step():
    """Feeding a pmapped step its own output must not trace it again (jax's internal version did)."""
    devices = jax.local_devices()
    state = {"w": jnp.ones((3,)), "eps": 0.0, "count": jnp.zeros((), jnp.uint32)}  # 0.0 is weak-typed
    replicated = device_put_replicated(state, devices)
    assert all(not getattr(x, "weak_type", False) for x in jax.tree.leaves(replicated))
    assert replicated["w"].shape == (len(devices), 3)
    np.testing.assert_array_equal(replicated["w"][0], state["w"])

    traces = []

    def step(s):
        traces.append(1)
        return jax.tree.map(lambda x: x + 1, s)

    pstep = jax.pmap(step, axis_name="i")
    out = pstep(pstep(replicated))
    assert len(traces) == 1
    np.testing.assert_array_equal(out["w"][0], state["w"] + 2)
