"""A run directory: ``config.json`` (resolved configs, versions, device) and ``metrics.jsonl``."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from pathlib import Path
from typing import Any

from mjx_walker.configs import ConfigError, to_dict

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "learning_curves.png"
CHECKPOINTS = "checkpoints"
POLICY = "policy"

_PACKAGES = (
    "mjx_walker",
    "jax",
    "jaxlib",
    "mujoco",
    "mujoco-mjx",
    "brax",
    "flax",
    "optax",
    "orbax-checkpoint",
)


def package_versions(names: tuple[str, ...] = _PACKAGES) -> dict[str, str]:
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
    """Read ``config.json`` of a run (FileNotFoundError naming the path if missing)."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"cannot resume: no {CONFIG_FILE} in {run_dir}")
    return json.loads(path.read_text())


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


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """All complete rows of ``metrics.jsonl`` (a torn last line is dropped)."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows


def truncate_metrics(run_dir: Path, last_step: int) -> list[dict[str, Any]]:
    """Keep only rows with ``env_steps <= last_step`` (atomically rewritten); return them."""
    rows = [r for r in read_metrics(run_dir) if r["env_steps"] <= last_step]
    tmp = run_dir / f".{METRICS_FILE}.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, run_dir / METRICS_FILE)
    return rows
