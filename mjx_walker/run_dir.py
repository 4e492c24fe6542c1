"""A run directory: ``config.json`` (resolved configs, versions, device), ``metrics.jsonl``, its lock."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import json
import os
import platform
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mjx_walker.configs import ConfigError, to_dict

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "learning_curves.png"
CHECKPOINTS = "checkpoints"
POLICY = "policy"
STAGES_FILE = "stages.json"  # a staged run: its stages' names and configs, one sub-directory each
LOCK_FILE = ".train.lock"  # flock held by the training process that owns the run directory


class RunDirError(RuntimeError):
    """A run directory cannot be used as asked (damaged, or in use by another process)."""


class RunDirLocked(RunDirError):
    """Another live process holds the run directory's lock."""


# The packages whose versions a run, an exported policy and an experiment record note: one list.
PACKAGES = (
    "mjx_walker",
    "jax",
    "jaxlib",
    "mujoco",
    "mujoco-mjx",
    "brax",
    "flax",
    "optax",
    "orbax-checkpoint",
    "onnx",
    "jax2onnx",
    "onnxruntime",
    "onnxruntime-gpu",
    "numpy",
)


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Python's and the installed version of each package in ``names`` ("not installed" if absent)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_info() -> dict[str, Any]:
    """The JAX backend, its devices and the host."""
    import jax

    devices = jax.local_devices()
    return {
        "backend": jax.default_backend(),
        "device_count": len(devices),
        "device_kind": devices[0].device_kind,
        "host_cpus": os.cpu_count(),
        "host": platform.node(),
    }


def resolved_config(env_cfg: Any, ppo_cfg: Any, device_count: int) -> dict[str, Any]:
    """The full config record of a run (what must match for a resume: env and ppo)."""
    return {
        "env": to_dict(env_cfg),
        "ppo": to_dict(ppo_cfg),
        "schedule": {
            "device_count": device_count,
            "num_epochs": ppo_cfg.num_epochs,
            "env_steps_per_epoch": ppo_cfg.env_steps_per_epoch,
            "total_env_steps": ppo_cfg.total_env_steps,
        },
        "versions": package_versions(),
        "device": device_info(),
    }


def write_config(run_dir: Path, record: dict[str, Any]) -> None:
    """Write ``config.json`` atomically."""
    tmp = run_dir / f".{CONFIG_FILE}.tmp"
    tmp.write_text(json.dumps(record, indent=2, default=str))
    os.replace(tmp, run_dir / CONFIG_FILE)


def read_config(run_dir: Path) -> dict[str, Any]:
    """Read ``config.json`` of a run (FileNotFoundError if missing, RunDirError if unreadable)."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"cannot resume: no {CONFIG_FILE} in {run_dir}")
    try:
        record = json.loads(path.read_text(errors="replace"))
    except (ValueError, RecursionError) as err:
        raise RunDirError(f"cannot resume: {path} is not valid JSON ({err})") from None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("env"), dict)
        or not isinstance(record.get("ppo"), dict)
    ):
        raise RunDirError(f"cannot resume: {path} has no 'env' and 'ppo' config sections")
    return record


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a.b": leaf}`` of a nested dict; lists become tuples for comparison."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tuple(tree) if isinstance(tree, list) else tree}


def config_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``"section.field: old -> new"`` for every env/ppo field that differs."""
    a = _flatten({"env": old.get("env", {}), "ppo": old.get("ppo", {})})
    b = _flatten({"env": new.get("env", {}), "ppo": new.get("ppo", {})})
    return [
        f"{k}: {a.get(k, '<missing>')!r} -> {b.get(k, '<missing>')!r}"
        for k in sorted(a.keys() | b.keys())
        if a.get(k) != b.get(k)
    ]


def check_same_config(run_dir: Path, new: dict[str, Any]) -> None:
    """Refuse (ConfigError naming each differing field) to resume a run with another config."""
    diffs = config_differences(read_config(run_dir), new)
    if diffs:
        raise ConfigError(
            f"cannot resume {run_dir} with a different config; differing fields:\n  " + "\n  ".join(diffs)
        )


def append_metrics(run_dir: Path, row: dict[str, Any]) -> None:
    """Append one JSON line to ``metrics.jsonl`` and flush it to disk."""
    with open(run_dir / METRICS_FILE, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _metrics_row(line: str) -> dict[str, Any] | None:
    """One metrics.jsonl line as a row, or None if it is not a JSON object with an int ``env_steps``."""
    try:
        row = json.loads(line)
    except (ValueError, RecursionError):  # torn or corrupt JSON
        return None
    if not isinstance(row, dict):
        return None
    step = row.get("env_steps")
    return row if isinstance(step, int) and not isinstance(step, bool) else None


def parse_metrics(text: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The valid rows of metrics.jsonl text, and the 1-based numbers of the unreadable lines.

    A torn last line (a kill mid-write) and any corrupt line elsewhere are skipped; the valid rows
    after a corrupt line are kept. Blank lines are ignored.
    """
    rows: list[dict[str, Any]] = []
    bad: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row = _metrics_row(line)
        if row is None:
            bad.append(number)
        else:
            rows.append(row)
    return rows, bad


def _metrics_text(run_dir: Path) -> str:
    """The text of ``metrics.jsonl`` ('' if absent); undecodable bytes become U+FFFD."""
    path = run_dir / METRICS_FILE
    return path.read_text(errors="replace") if path.is_file() else ""


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """All complete rows of ``metrics.jsonl`` (torn or corrupt lines are skipped)."""
    return parse_metrics(_metrics_text(run_dir))[0]


def truncate_metrics(run_dir: Path, last_step: int) -> tuple[list[dict[str, Any]], list[int]]:
    """Keep the valid rows with ``env_steps <= last_step`` (atomically rewritten).

    Returns those rows and the line numbers of the unreadable lines that were dropped.
    """
    rows, bad = parse_metrics(_metrics_text(run_dir))
    rows = [r for r in rows if r["env_steps"] <= last_step]
    tmp = run_dir / f".{METRICS_FILE}.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, run_dir / METRICS_FILE)
    return rows, bad


def check_resumable(
    run_dir: Path, rows: list[dict[str, Any]], last_checkpoint: int | None, epoch_steps: int, ckpt_dir_exists: bool
) -> None:
    """Refuse (RunDirError) to resume a run whose metrics go past what its checkpoints can restore.

    Rows up to the latest complete checkpoint plus one epoch are normal (a kill while that epoch's
    checkpoint was being written); rows beyond mean checkpoints were lost, and resuming would
    delete those rows and train over the old policy from an earlier step (or from scratch).
    A run without a ``checkpoints/`` directory may only hold the step-0 eval.
    """
    last_row = max((r["env_steps"] for r in rows), default=0)
    restorable = last_checkpoint or 0
    limit = restorable + epoch_steps if ckpt_dir_exists else 0
    if last_row <= limit:
        return
    where = (
        f"the latest complete checkpoint is at env step {restorable}"
        if last_checkpoint is not None
        else f"there is no complete checkpoint in {run_dir / CHECKPOINTS}"
        if ckpt_dir_exists
        else f"{run_dir / CHECKPOINTS} is missing"
    )
    raise RunDirError(
        f"cannot resume {run_dir}: {METRICS_FILE} has evals up to env step {last_row} but {where}; "
        f"resuming would delete those rows and retrain over the old policy. Restore the checkpoints, "
        f"or train a new run in another directory"
    )


def _lock_holder(fd: int) -> str:
    """The pid written in a lock file, or 'unknown' if none was written yet."""
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return text if text.isdigit() else "unknown"


@contextlib.contextmanager
def lock_run_dir(run_dir: Path) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on ``run_dir/.train.lock`` for the body; yield the lock path.

    A second process (or a second open in this one) gets RunDirLocked naming the run directory and
    the holder's pid. The kernel drops the lock when the holder exits in any way, SIGKILL included,
    so a leftover lock file is never stale. The run directory is created if needed.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirLocked(
                f"{run_dir} is in use by another training process (pid {_lock_holder(fd)}); "
                "wait for it to finish or stop it, then resume"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock


def write_stages(run_dir: Path, stages: list[dict[str, Any]], select: int = 0) -> None:
    """Write ``stages.json`` atomically, creating the run directory.

    It holds ``stages`` (``[{"name", "env", "ppo"}, ...]``) and ``select``, how many of the last
    stage's checkpoints the trainer judges at the end (:mod:`mjx_walker.selection`).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / f".{STAGES_FILE}.tmp"
    tmp.write_text(json.dumps({"stages": stages, "select": select}, indent=2, default=str))
    os.replace(tmp, run_dir / STAGES_FILE)


def read_stages(run_dir: Path) -> list[dict[str, Any]] | None:
    """The stages recorded in a staged run directory, or None for a plain run."""
    path = Path(run_dir) / STAGES_FILE
    if not path.is_file():
        return None
    try:
        stages = json.loads(path.read_text())["stages"]
    except (ValueError, KeyError, TypeError) as err:
        raise RunDirError(f"{path} is not a valid stages file ({err})") from None
    return stages


def read_select(run_dir: Path) -> int:
    """How many of its last stage's checkpoints a staged run judges at its end (0: none, or a plain run)."""
    path = Path(run_dir) / STAGES_FILE
    return int(json.loads(path.read_text()).get("select", 0)) if path.is_file() else 0
