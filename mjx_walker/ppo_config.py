"""PPO configuration: a frozen dataclass mapped onto ``brax.training.agents.ppo.train``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mjx_walker.configs import ConfigError, _fail, canonicalize, check_bool, check_scalar

# JAX's PRNGKey silently wraps seeds above 2**32 - 1 (2**32 gives seed 0's key) and overflows above
# 2**63; a resumed run re-seeds with seed + completed epochs. Seeds stay in int32 to be safe anywhere.
MAX_SEED = 2**31 - 1
MAX_WIDTH = 65_536  # units in one hidden layer
MAX_LAYERS = 16  # hidden layers of one network
MAX_ENVS = 1_048_576  # parallel envs (training or eval): far past one GPU's memory for a humanoid
MAX_UNROLL = 10_000  # env steps per unroll


@dataclass(frozen=True)
class PPOConfig:
    """Brax PPO hyper-parameters and network sizes (defaults: the walking recipe's first stage on one GPU).

    The learner (networks, entropy, learning rate, discount) is the walking recipe's; the batch is
    MuJoCo Playground's GPU shape: 8192 envs, 256 x 32 minibatches x unroll 20 = 163,840 env steps
    and 128 gradient steps per round. The step count keeps the recipe's number of gradient steps:
    its first stage took 294 rounds of 64 on 2 CPU cores (18,816), which is 147 rounds here.
    """

    num_timesteps: int = 24_084_480  # 147 rounds of 163,840 env steps
    num_envs: int = 8192
    num_eval_envs: int = 128
    num_evals: int = 8  # 7 epochs of 21 rounds (3.4M env steps), an eval and checkpoint after each
    unroll_length: int = 20
    batch_size: int = 256
    num_minibatches: int = 32
    num_updates_per_batch: int = 4
    learning_rate: float = 3e-4
    entropy_cost: float = 5e-3
    discounting: float = 0.97
    gae_lambda: float = 0.95
    clipping_epsilon: float = 0.2
    max_grad_norm: float = 1.0
    reward_scaling: float = 1.0
    normalize_observations: bool = True
    deterministic_eval: bool = True  # evals use the policy's mode, as the exported policy does
    policy_hidden_layer_sizes: tuple[int, ...] = (256, 128, 64)
    value_hidden_layer_sizes: tuple[int, ...] = (256, 256, 128)
    activation: str = "swish"
    # The actor as (f(s) + M f(M s)) / 2 with M the robot's left-right mirror (mjx_walker.mirror):
    # exactly symmetric, whatever the network f learns. The parameters are f's, so a plain
    # policy's checkpoint starts a symmetric one. Part of the walking recipe (docs/recipe.md:
    # fewer falls and smaller tracking errors, seed for seed).
    symmetric_policy: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        """Validate sizes (divisibility involving the device count is checked by train)."""
        canonicalize(self)
        check_scalar(self, "num_timesteps", 1, None, integer=True, int32=False)  # a host-side count
        for name in (
            "num_envs",
            "num_eval_envs",
            "num_evals",
            "unroll_length",
            "batch_size",
            "num_minibatches",
            "num_updates_per_batch",
        ):
            check_scalar(self, name, 1, None, integer=True)
        for name, top in (("num_envs", MAX_ENVS), ("num_eval_envs", MAX_ENVS), ("unroll_length", MAX_UNROLL)):
            check_scalar(self, name, 1, top, integer=True)
        for name in ("learning_rate", "clipping_epsilon", "reward_scaling"):
            check_scalar(self, name, 0.0, None, strict_lo=True)
        check_scalar(self, "discounting", 0.0, 1.0, strict_lo=True)
        check_scalar(self, "entropy_cost", 0.0, None)
        check_scalar(self, "gae_lambda", 0.0, 1.0)
        check_scalar(self, "max_grad_norm", 0.0, None, strict_lo=True)
        check_bool(self, "normalize_observations")
        check_bool(self, "deterministic_eval")
        check_bool(self, "symmetric_policy")
        self._check_seed()
        for name in ("policy_hidden_layer_sizes", "value_hidden_layer_sizes"):
            sizes = getattr(self, name)
            if not _positive_int_tuple(sizes) or max(sizes) > MAX_WIDTH or len(sizes) > MAX_LAYERS:
                _fail(
                    self,
                    name,
                    sizes,
                    f"expected a non-empty tuple of at most {MAX_LAYERS} positive integers of at most "
                    f"{MAX_WIDTH}, e.g. (256, 128)",
                )
        if not isinstance(self.activation, str) or self.activation not in ACTIVATIONS:
            _fail(self, "activation", self.activation, f"one of {sorted(ACTIVATIONS)}")

    def _check_seed(self) -> None:
        """The seed, and seed + epoch for a resumed run, must fit a 32-bit JAX PRNG seed."""
        top = MAX_SEED - (self.num_epochs - 1)
        check_scalar(self, "seed", 0, None, integer=True, int32=False)  # its own bound follows
        if self.seed > top:
            _fail(
                self,
                "seed",
                self.seed,
                f"expected an integer in [0, {top}]: JAX PRNG seeds are 32-bit (larger ones wrap "
                f"around silently) and a resumed run seeds with seed + epoch (up to {self.num_epochs - 1})",
            )

    @property
    def env_steps_per_training_step(self) -> int:
        """Env steps per Brax training step: batch_size * unroll_length * num_minibatches."""
        return self.batch_size * self.unroll_length * self.num_minibatches

    @property
    def training_steps_per_epoch(self) -> int:
        """Training steps between two evals (Brax's ``num_training_steps_per_epoch``)."""
        per_epoch = self.num_epochs * self.env_steps_per_training_step
        return -(-self.num_timesteps // per_epoch)

    @property
    def num_epochs(self) -> int:
        """Training epochs (an eval and checkpoint after each): ``max(num_evals - 1, 1)``."""
        return max(self.num_evals - 1, 1)

    @property
    def env_steps_per_epoch(self) -> int:
        """Env steps between two evals/checkpoints."""
        return self.training_steps_per_epoch * self.env_steps_per_training_step

    @property
    def total_env_steps(self) -> int:
        """Env steps a full run really takes (num_timesteps rounded up to whole epochs)."""
        return self.num_epochs * self.env_steps_per_epoch

    def check_devices(self, device_count: int, processes: int = 1) -> None:
        """Check Brax's divisibility constraints for ``device_count`` devices (ConfigError).

        ``device_count`` is all ``processes``' devices together (each process runs its share).
        """
        if device_count < 1:
            raise ConfigError(f"device_count = {device_count} is invalid: expected >= 1")
        count = f"the device count {device_count}"
        if processes > 1:
            count += f" ({processes} processes x {device_count // processes} devices)"
        rollout = self.batch_size * self.num_minibatches
        if rollout % self.num_envs:
            valid = sorted(d for d in _divisors(rollout) if d % device_count == 0)
            _fail(
                self,
                "num_envs",
                self.num_envs,
                f"batch_size * num_minibatches = {self.batch_size} * {self.num_minibatches} = "
                f"{rollout} must be a multiple of num_envs; valid num_envs here: {valid[:12]}"
                + (" ..." if len(valid) > 12 else ""),
            )
        if self.num_envs % device_count:
            _fail(
                self,
                "num_envs",
                self.num_envs,
                f"must be a multiple of {count} (each device runs "
                f"num_envs / {device_count} envs); e.g. {_round_up(self.num_envs, device_count)}",
            )
        if self.batch_size % device_count:
            _fail(
                self,
                "batch_size",
                self.batch_size,
                f"must be a multiple of {count} (each device splits its "
                f"share into num_minibatches); e.g. {_round_up(self.batch_size, device_count)}",
            )

    def replace(self, **changes: object) -> PPOConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


ACTIVATIONS = ("swish", "relu", "tanh", "elu")


def _positive_int_tuple(sizes: object) -> bool:
    """Whether ``sizes`` is a non-empty tuple of positive ints (bools excluded)."""
    return (
        isinstance(sizes, tuple)
        and len(sizes) > 0
        and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes)
    )


def _divisors(n: int) -> list[int]:
    """All positive divisors of n."""
    return [d for d in range(1, n + 1) if n % d == 0] if n <= 1_000_000 else [n]


def _round_up(value: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is >= value."""
    return -(-value // multiple) * multiple
