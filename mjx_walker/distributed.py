"""Training as several cooperating processes on JAX's own distributed runtime (``jax.distributed``).

Brax's PPO already runs across processes: each of the ``P x D`` devices (P processes with D local
devices each) steps ``num_envs / (P x D)`` envs, gradients are averaged over all of them, and only
process 0 evaluates and reports progress. This module adds what a launch needs around that:

- the launch options, checked before JAX starts (:func:`parse_launch`);
- JAX's initialization, explicit (``--coordinator HOST:PORT --num-processes N --process-id I``) or
  detected from the cluster (``--distributed``: SLURM, Open MPI, Kubernetes, as
  ``jax.distributed.initialize()`` detects them);
- :func:`share_start`: every process starts from process 0's view of the run (epochs done and the
  parameters of its checkpoint), so the processes cannot disagree about where a resume begins, even
  when they do not share a filesystem.

Process 0 alone writes the run directory. When a process dies, JAX's coordination service stops the
others ("Terminating process because the JAX distributed service detected fatal errors ... another
task died"); the same command with ``--resume RUN`` on every process continues from the latest
complete checkpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from mjx_walker.configs import ConfigError

# JAX's default is 100 s; a dead peer is noticed sooner, and compiles (minutes) do not stop
# heartbeats, which run on their own thread. The environment variable sets another (whole seconds).
HEARTBEAT_TIMEOUT_S = 60
HEARTBEAT_ENV = "MJX_WALKER_HEARTBEAT_TIMEOUT_S"


@dataclass(frozen=True)
class Launch:
    """How this process joins the others: explicit coordinator and ranks, or detected (``auto``)."""

    coordinator: str | None = None  # "HOST:PORT" of process 0's coordination service
    num_processes: int | None = None
    process_id: int | None = None
    auto: bool = False  # let jax.distributed.initialize() detect the cluster (SLURM, Open MPI, ...)

    @property
    def several(self) -> bool:
        """Whether this launch may run more than one process (auto: the cluster decides)."""
        return self.auto or (self.num_processes or 1) > 1


def _port(text: str) -> int | None:
    """The port of ``HOST:PORT``, or None if it is not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        return None
    return int(port)


def heartbeat_timeout_s() -> int:
    """Seconds without a heartbeat before the others stop: $MJX_WALKER_HEARTBEAT_TIMEOUT_S, else 60."""
    text = os.environ.get(HEARTBEAT_ENV)
    if text is None:
        return HEARTBEAT_TIMEOUT_S
    if not text.strip().isdigit() or int(text) < 5:
        raise ConfigError(f"{HEARTBEAT_ENV} = {text!r} is invalid: expected whole seconds >= 5")
    return int(text)


def parse_launch(
    coordinator: str | None, num_processes: int | None, process_id: int | None, auto: bool = False
) -> Launch | None:
    """The launch these CLI options ask for (None: one process); ConfigError naming a bad option."""
    explicit = {"--coordinator": coordinator, "--num-processes": num_processes, "--process-id": process_id}
    given = [flag for flag, value in explicit.items() if value is not None]
    if auto or given:
        heartbeat_timeout_s()  # a bad value is refused before JAX starts
    if auto:
        if given:
            raise ConfigError(
                f"--distributed detects the cluster's processes; it does not go with {', '.join(given)} "
                "(give either --distributed, or all of --coordinator, --num-processes and --process-id)"
            )
        return Launch(auto=True)
    if not given:
        return None
    if len(given) != 3:
        missing = [flag for flag in explicit if flag not in given]
        raise ConfigError(f"{', '.join(given)} needs {', '.join(missing)} too (all three describe the launch)")
    if _port(str(coordinator)) is None:
        raise ConfigError(f"--coordinator = {coordinator!r} is invalid: expected HOST:PORT with a port in 1..65535")
    if isinstance(num_processes, bool) or not isinstance(num_processes, int) or num_processes < 1:
        raise ConfigError(f"--num-processes = {num_processes!r} is invalid: expected an integer >= 1")
    if isinstance(process_id, bool) or not isinstance(process_id, int) or not 0 <= process_id < num_processes:
        raise ConfigError(
            f"--process-id = {process_id!r} is invalid: expected an integer in [0, {num_processes - 1}] "
            f"(--num-processes {num_processes})"
        )
    return Launch(coordinator, num_processes, process_id)


def initialize(launch: Launch) -> None:
    """Join the other processes (before any JAX computation); on a CPU, collectives go over gloo."""
    import jax

    if launch.auto:
        jax.distributed.initialize(heartbeat_timeout_seconds=heartbeat_timeout_s())
        return
    jax.distributed.initialize(
        launch.coordinator,
        launch.num_processes,
        launch.process_id,
        heartbeat_timeout_seconds=heartbeat_timeout_s(),
    )


def check_cpu_processes(backend: str, processes: int, jax_version: str) -> None:
    """ConfigError for several CPU processes on a jax whose XLA crashes on them (before compiling)."""
    major_minor = tuple(int(x) for x in jax_version.split(".")[:2])
    if backend == "cpu" and processes > 1 and major_minor >= (0, 11):
        raise ConfigError(
            f"{processes} processes on CPU are not supported on jax {jax_version}: its XLA crashes "
            "(segmentation fault) compiling Brax's env reset pmapped across processes (seen on jax 0.11.2, "
            "gloo). Allowed: jax 0.10.x for several CPU processes, or one process (it uses every core)"
        )


def process_index() -> int:
    """The rank of this process (0 when not distributed)."""
    import jax

    return jax.process_index()


def process_count() -> int:
    """How many processes train together (1 when not distributed)."""
    import jax

    return jax.process_count()


def is_writer() -> bool:
    """Whether this process writes the run directory (process 0 alone does)."""
    return process_index() == 0


def share_start(done_epochs: int, restore: Any, template: Any) -> tuple[int, Any]:
    """Process 0's (epochs done, parameters to restore or None), the same on every process.

    ``template`` is a callable returning a pytree shaped like the parameters (used by the other
    processes, which receive the values). One process: returned unchanged, nothing compiled.
    """
    import jax
    import numpy as np
    from jax.experimental import multihost_utils

    if jax.process_count() == 1:
        return done_epochs, restore
    head = np.array([done_epochs, restore is not None], np.int32)
    head = np.asarray(multihost_utils.broadcast_one_to_all(head))
    done_epochs, has_restore = int(head[0]), bool(head[1])
    if not has_restore:
        return done_epochs, None
    tree = restore if is_writer() else template()
    shared = multihost_utils.broadcast_one_to_all(tree)
    return done_epochs, jax.tree.map(np.asarray, shared)
