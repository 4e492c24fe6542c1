"""The jax/brax bridge: replicated training state must look exactly like pmap's output."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

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


def _tiny_env():
    """A strongly typed one-number Brax env (Brax's own test env ``Fast`` has weak-typed fields)."""
    from brax.envs.base import Env, State

    class Tiny(Env):
        def reset(self, rng):
            zero = jnp.zeros((), jnp.float32)
            return State(pipeline_state=None, obs=jnp.zeros(2, jnp.float32), reward=zero, done=zero, metrics={})

        def step(self, state, action):
            obs = state.obs + action[:1]
            return state.replace(obs=obs, reward=-jnp.sum(obs**2))

        observation_size = property(lambda self: 2)
        action_size = property(lambda self: 1)
        backend = property(lambda self: "none")

    return Tiny()


def test_the_second_eval_reuses_the_first_evals_compiled_unroll():
    """Brax's evaluator traced its eval unroll again at the second eval; the steady one does not."""
    from brax.envs.wrappers.training import EpisodeWrapper, VmapWrapper
    from brax.training import acting
    from brax.training.agents.ppo.train import _unpmap

    from mjx_walker.brax_compat import SteadyEvaluator

    env = VmapWrapper(EpisodeWrapper(_tiny_env(), episode_length=5, action_repeat=1))

    def make_policy(params):
        """A policy whose actions depend on the (pmap-sharded) parameters, as PPO's do."""
        return lambda obs, key: (jnp.tanh(obs[..., :1] + params["w"]), {})

    # The parameters as PPO hands them to the evaluator: one pmap output, unpmapped.
    params = _unpmap(jax.pmap(lambda w: {"w": w}, axis_name="i")(jnp.ones((1,), jnp.float32)))
    sizes = {}
    brax_own = SteadyEvaluator.__bases__[0]  # acting.Evaluator itself is ours once training has run
    assert brax_own.__module__ == acting.__name__
    for cls in (brax_own, SteadyEvaluator):
        evaluator = cls(env, make_policy, num_eval_envs=4, episode_length=5, action_repeat=1, key=jax.random.PRNGKey(0))
        for _ in range(3):
            metrics = evaluator.run_evaluation(params, training_metrics={})
        assert metrics["eval/avg_episode_length"] == 5.0
        sizes[cls.__name__] = evaluator._generate_eval_unroll._cache_size()
    # Brax's own compiles twice (this test would tell when a Brax release fixes it); ours once.
    assert sizes == {"Evaluator": 2, "SteadyEvaluator": 1}


def test_brax_and_jax_get_their_own_objects_back_after_the_block():
    from brax.training import acting

    from mjx_walker.brax_compat import SteadyEvaluator, brax_patched

    own, had = acting.Evaluator, hasattr(jax, "device_put_replicated")
    assert own is not SteadyEvaluator
    with pytest.raises(RuntimeError), brax_patched():
        assert acting.Evaluator is SteadyEvaluator
        assert hasattr(jax, "device_put_replicated")
        raise RuntimeError("training failed")
    assert acting.Evaluator is own
    assert hasattr(jax, "device_put_replicated") == had
