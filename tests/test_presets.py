"""The presets are the walking recipe: ``EnvConfig()``'s defaults, differing only where they must."""

from __future__ import annotations

import dataclasses

import pytest

from mjx_walker.configs import EnvConfig, RobotConfig
from mjx_walker.ppo_config import PPOConfig
from mjx_walker.presets import get_stages
from mjx_walker.robots import ROBOTS


def _on(env: EnvConfig, backend: str) -> EnvConfig:
    return dataclasses.replace(env, sim=dataclasses.replace(env.sim, backend=backend))


@pytest.mark.parametrize("robot", sorted(ROBOTS))
def test_gpu_and_cpu_presets_are_the_default_env_and_differ_only_in_backend_and_batch(robot):
    gpu, cpu = get_stages(robot, "gpu"), get_stages(robot, "cpu")
    assert [s.name for s in gpu] == [s.name for s in cpu] == ["main", "finish"]
    assert gpu[0].env == EnvConfig(robot=RobotConfig(name=robot))  # the recipe is the defaults
    for g, c in zip(gpu, cpu, strict=True):
        assert g.env.sim.backend == "mjx" and c.env.sim.backend == "mujoco"
        assert _on(c.env, "mjx") == g.env  # same env, stage by stage
        learner = ("learning_rate", "entropy_cost", "discounting", "gae_lambda", "clipping_epsilon")
        learner += ("num_updates_per_batch", "policy_hidden_layer_sizes", "value_hidden_layer_sizes", "activation")
        assert {k: getattr(g.ppo, k) for k in learner} == {k: getattr(c.ppo, k) for k in learner}
    assert gpu[0].ppo == PPOConfig()  # the GPU run is PPOConfig()'s defaults


def test_recipe_values_hand_checked():
    """The recipe itself, as found on 2 CPU cores (experiments/cpu_walk.py): a change here is a recipe change."""
    env = EnvConfig()
    assert env.sim.n_substeps == 5 and env.sim.sim_dt == 0.004
    assert env.reward.tracking_sigma == 0.25 and env.reward.step_in_place and env.reward.stand_still == 0.0
    assert (env.reward.tracking_lin_vel, env.reward.tracking_ang_vel) == (1.5, 0.75)
    box = (env.command.lin_vel_x, env.command.lin_vel_y, env.command.yaw_rate)
    assert box == ((-0.3, 0.8), (-0.3, 0.3), (-0.7, 0.7))
    assert env.push.magnitude == (0.1, 0.5) and env.randomization.lag_substeps == (0, 4)  # lag 0-16 ms
    finish = get_stages("berkeley_humanoid", "cpu")[1]
    assert finish.env.command.lin_vel_x == (0.0, 0.6) and finish.env.command.edge_prob == 0.3
    assert finish.ppo.learning_rate == 1e-4


def test_gpu_shape_keeps_the_cpu_recipes_gradient_steps_within_five_percent():
    """Gradient steps = rounds x updates x minibatches; a round is batch x minibatches x unroll env steps."""

    def gradient_steps(ppo: PPOConfig) -> int:
        per_round = ppo.batch_size * ppo.num_minibatches * ppo.unroll_length
        return ppo.total_env_steps // per_round * ppo.num_updates_per_batch * ppo.num_minibatches

    gpu, cpu = get_stages("berkeley_humanoid", "gpu"), get_stages("berkeley_humanoid", "cpu")
    assert [gradient_steps(s.ppo) for s in cpu] == [18_816, 4_800]
    for g, c in zip(gpu, cpu, strict=True):
        assert abs(gradient_steps(g.ppo) / gradient_steps(c.ppo) - 1) <= 0.05
    shape = gpu[0].ppo
    assert (shape.num_envs, shape.batch_size, shape.num_minibatches, shape.num_updates_per_batch) == (8192, 256, 32, 4)
