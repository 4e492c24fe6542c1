"""TensorBoard event files of a run's metrics, next to ``metrics.jsonl`` (``RUN/tb/``).

Every number of every ``metrics.jsonl`` row becomes a scalar at its env step: episode reward and
length, each reward term (``reward/<name>``), Brax's losses (``training/...``), steps/s and the
physics health share. ``tensorboard --logdir runs`` then shows every run side by side.
``tensorboardX`` (a Brax dependency) writes the files, so TensorFlow is not needed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

TB_DIR = "tb"
SKIP = ("env_steps", "wall_time")  # the x axis, and the wall clock TensorBoard records itself


def scalars(row: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a metrics row, except its step and wall clock (:data:`SKIP`)."""
    return {
        k: float(v)
        for k, v in row.items()
        if k not in SKIP and isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


class TensorBoardLog:
    """Writes metrics rows as scalars under ``run/tb``; does nothing when disabled."""

    def __init__(self, run: Path, enabled: bool = True) -> None:
        """Open (or append to, on resume) the run's event files."""
        self.writer = None
        if enabled:
            from tensorboardX import SummaryWriter

            self.writer = SummaryWriter(logdir=str(run / TB_DIR), flush_secs=10)

    def write(self, row: dict[str, Any]) -> None:
        """Every finite number of ``row`` as a scalar at ``row["env_steps"]``, then flush."""
        if self.writer is None:
            return
        step = int(row["env_steps"])
        for key, value in scalars(row).items():
            self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self) -> None:
        """Close the event files."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def read_scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in ``run/tb``'s event files: ``{tag: [(step, value), ...]}`` in file order.

    Event files are TFRecords (length, its CRC, the serialized ``Event``, its CRC); the CRCs are
    not checked. For tests and quick looks without TensorBoard installed.
    """
    import struct

    from tensorboardX.proto.event_pb2 import Event

    out: dict[str, list[tuple[int, float]]] = {}
    for path in sorted((run / TB_DIR).glob("events.out.tfevents.*")):
        blob, pos = path.read_bytes(), 0
        while pos + 12 <= len(blob):
            (length,) = struct.unpack_from("<Q", blob, pos)
            event = Event.FromString(blob[pos + 12 : pos + 12 + length])
            pos += 12 + length + 4
            for value in event.summary.value:
                out.setdefault(value.tag, []).append((int(event.step), float(value.simple_value)))
    return out


class WandbLog:
    """Writes metrics rows to a Weights & Biases run when a project is given (``wandb`` installed)."""

    def __init__(self, run: Path, project: str | None, config: dict[str, Any] | None = None) -> None:
        """Start a W&B run named after the run directory in ``project``; nothing if ``project`` is None."""
        self.run = None
        if project is None:
            return
        wandb = import_wandb(project)
        self.run = wandb.init(project=project, name=run.name, dir=str(run), config=config or {}, resume="allow")

    def write(self, row: dict[str, Any]) -> None:
        """Every finite number of ``row`` at ``row["env_steps"]``."""
        if self.run is None:
            return
        self.run.log(scalars(row), step=int(row["env_steps"]))

    def close(self) -> None:
        """Finish the W&B run."""
        if self.run is not None:
            self.run.finish()
            self.run = None


def import_wandb(project: str) -> Any:
    """The ``wandb`` module; ConfigError in one line when it is not installed or ``project`` is empty."""
    from mjx_walker.configs import ConfigError

    if not isinstance(project, str) or not project.strip():
        raise ConfigError(f"wandb project = {project!r} is invalid: expected a non-empty project name")
    try:
        import wandb
    except ImportError as err:
        raise ConfigError(
            f"wandb project = {project!r} needs the wandb package, which is not installed: pip install wandb"
        ) from err
    return wandb
