"""Actuator lag: the target applied is the one commanded exactly `lag` substeps earlier."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mjx_walker import lag
from mjx_walker.randomization import nominal_params


def test_buffer_returns_target_commanded_d_pushes_ago():
    nu, max_lag = 3, 6
    buf = lag.init_buffer(jnp.full(nu, -1.0), max_lag)
    history = []
    for t in range(10):  # a distinct target every substep
        target = jnp.full(nu, float(t))
        buf = lag.push(buf, target)
        history.append(target)
        for d in range(max_lag + 1):
            expected = history[t - d] if t - d >= 0 else jnp.full(nu, -1.0)
            np.testing.assert_array_equal(lag.read(buf, jnp.int32(d)), expected)


def test_env_physics_applies_target_from_lag_substeps_ago(nominal_env):
    """Two control steps with targets A then B: substep k of step 2 applies B iff k >= lag (the env's schedule)."""
    env = nominal_env
    n, nu, max_lag = env.n_substeps, env.action_size, env.cfg.randomization.max_lag_substeps
    x0 = env.default_joint_pos
    a = x0 + 0.2
    b = x0 - 0.3
    lags = jnp.arange(max_lag + 1, dtype=jnp.int32)

    def two_steps(d):
        params = nominal_params(env.robot).replace(lag=d)
        buf = lag.init_buffer(x0, max_lag)
        buf, applied1 = lag.schedule(buf, a, params.lag, n)
        _, applied2 = lag.schedule(buf, b, params.lag, n)
        return applied1, applied2

    applied1, applied2 = jax.jit(jax.vmap(two_steps))(lags)
    assert applied1.shape == (max_lag + 1, n, nu)
    for d in range(max_lag + 1):
        for k in range(n):
            # substep k of step j (0-based) applies the target set at substep j * n + k - d: x0 before
            # step 1, A during it, B during step 2 (a lag longer than a control step reaches back two)
            exp1, exp2 = ([x0, a, b][int(np.clip(np.floor((j * n + k - d) / n) + 1, 0, 2))] for j in (0, 1))
            np.testing.assert_allclose(applied1[d, k], exp1, atol=0, err_msg=f"lag={d} substep={k}")
            np.testing.assert_allclose(applied2[d, k], exp2, atol=0, err_msg=f"lag={d} substep={k}")
