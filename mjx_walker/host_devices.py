"""How many XLA host devices Brax may pmap over on a CPU without hanging.

On a CPU, JAX can split the host into several XLA devices (``--xla_force_host_platform_device_count``)
and Brax's PPO pmaps its envs over them: +53 % env steps/s on 2 cores with 32 envs per device
(experiments/results/training_throughput_cpu_2026-11-24.md). With more envs per device, XLA's CPU
runtime deadlocks at start-up: measured on 2 cores (jax 0.10.2), 2 devices x 128 envs sits at 0 %
CPU forever, its main thread inside Brax's network init, waiting behind the pmapped env reset (the
devices' computations block the runtime's worker threads that their own parallel loops need;
turning Eigen's threading or async dispatch off does not help). 2 x 32 runs. So a CPU run uses
several devices only while each holds at most ``MAX_ENVS_PER_HOST_DEVICE`` envs, else one.
Nothing here imports JAX: the count must be chosen before JAX starts.
"""

from __future__ import annotations

from mjx_walker.configs import ConfigError
from mjx_walker.ppo_config import PPOConfig

MAX_ENVS_PER_HOST_DEVICE = 32  # largest per-device batch measured to start on 2 devices


def is_safe(ppo_cfg: PPOConfig, devices: int, processes: int = 1) -> bool:
    """Whether pmapping ``ppo_cfg``'s envs over ``devices`` host devices (all processes') is known not to hang.

    The hang needs several devices in one process: one device per process is always safe.
    """
    return devices <= processes or ppo_cfg.num_envs / devices <= MAX_ENVS_PER_HOST_DEVICE


def choose_host_devices(ppo_cfg: PPOConfig, cores: int, processes: int = 1, sim_backend: str = "mjx") -> int:
    """The most host devices (<= cores) per process that divide the batch and are safe; 1 if none is.

    With several processes, each runs ``num_envs / processes`` of the envs on its own devices.
    MuJoCo C physics (``sim_backend="mujoco"``) gets one device: its rollout pool spreads the envs
    over the cores itself (measured on 2 cores, cpu preset: 8.7k env steps/s on 1 device, 7.7k on 2).
    """
    if sim_backend == "mujoco":
        return 1
    for devices in range(max(cores, 1), 1, -1):
        total = devices * processes
        divides = ppo_cfg.num_envs % total == 0 and ppo_cfg.batch_size % total == 0
        if divides and is_safe(ppo_cfg, total, processes):
            return devices
    return 1


def check_host_devices(ppo_cfg: PPOConfig, devices: int, processes: int = 1) -> None:
    """Raise ConfigError, before any compile, if ``devices`` CPU devices (all processes') would hang this batch."""
    if not is_safe(ppo_cfg, devices, processes):
        raise ConfigError(
            f"PPOConfig.num_envs = {ppo_cfg.num_envs} is invalid on {devices} XLA host devices: "
            f"{ppo_cfg.num_envs // devices} envs per device hangs XLA's CPU runtime at start-up; allowed: "
            f"at most {MAX_ENVS_PER_HOST_DEVICE} envs per device, or 1 device (--host-devices 1, or leave "
            "--host-devices unset and the CLI picks a safe count)"
        )


MAX_HOST_DEVICES = 1024  # far above any host's cores; XLA would build this many CPU devices


def check_host_device_count(count: object) -> None:
    """Raise ConfigError, before JAX starts, unless ``--host-devices`` is None or an int in [1, 1024]."""
    if count is None:
        return
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_HOST_DEVICES:
        raise ConfigError(
            f"--host-devices = {count!r} is invalid: expected an integer in [1, {MAX_HOST_DEVICES}] "
            "(XLA host devices Brax pmaps over), or leave it unset for a safe count"
        )
