"""PPO configuration: a frozen dataclass mapped onto ``brax.training.agents.ppo.train``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mjx_walker.configs import _fail, check_scalar


@dataclass(frozen=True)
class PPOConfig:
    """Brax PPO hyper-parameters and network sizes (defaults: the full GPU run)."""

    num_timesteps: int = 200_000_000
    num_envs: int = 8192
    num_eval_envs: int = 128
    num_evals: int = 20
    episode_length: int = 1000
    unroll_length: int = 20
    batch_size: int = 256
    num_minibatches: int = 32
    num_updates_per_batch: int = 4
    learning_rate: float = 3e-4
    entropy_cost: float = 1e-2
    discounting: float = 0.97
    gae_lambda: float = 0.95
    clipping_epsilon: float = 0.2
    max_grad_norm: float = 1.0
    reward_scaling: float = 1.0
    normalize_observations: bool = True
    policy_hidden_layer_sizes: tuple[int, ...] = (512, 256, 128)
    value_hidden_layer_sizes: tuple[int, ...] = (512, 256, 128)
    activation: str = "swish"
    seed: int = 0

    def __post_init__(self) -> None:
        """Validate sizes (divisibility involving the device count is checked by train)."""
        for name in (
            "num_timesteps",
            "num_envs",
            "num_eval_envs",
            "num_evals",
            "episode_length",
            "unroll_length",
            "batch_size",
            "num_minibatches",
            "num_updates_per_batch",
        ):
            check_scalar(self, name, 1, None, integer=True)
        for name in ("learning_rate", "discounting", "clipping_epsilon", "reward_scaling"):
            check_scalar(self, name, 0.0, None, strict_lo=True)
        check_scalar(self, "entropy_cost", 0.0, None)
        check_scalar(self, "gae_lambda", 0.0, 1.0)
        check_scalar(self, "max_grad_norm", 0.0, None, strict_lo=True)
        check_scalar(self, "seed", 0, None, integer=True)
        for name in ("policy_hidden_layer_sizes", "value_hidden_layer_sizes"):
            sizes = getattr(self, name)
            if not sizes or not all(isinstance(s, int) and s > 0 for s in sizes):
                _fail(self, name, sizes, "expected a non-empty tuple of positive integers")
        if self.activation not in ACTIVATIONS:
            _fail(self, "activation", self.activation, f"one of {sorted(ACTIVATIONS)}")

    def replace(self, **changes: object) -> PPOConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


ACTIVATIONS = ("swish", "relu", "tanh", "elu")
