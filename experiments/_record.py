"""Shared by every benchmark and experiment: what a result file records, and where it goes.

Each result is one JSON file in ``experiments/results/`` named ``<name>_<device>_<date>.json``
with the date, the exact command, the git commit, the device (JAX backend and device kind, host CPUs), and the
versions of every package the figure depends on. ``experiments/summarize.py`` builds
``experiments/README.md`` from these files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def versions() -> dict[str, str]:
    """Python and the installed version of each package of the project's list (absent ones left out)."""
    from mjx_walker.run_dir import PACKAGES, package_versions

    return {k: v for k, v in package_versions(PACKAGES).items() if v != "not installed"}


def _cpu_model() -> str:
    """The host CPU's model name (Linux), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def device() -> dict[str, Any]:
    """The JAX backend and accelerator, and the host's CPUs."""
    info: dict[str, Any] = {"host_cpus": os.cpu_count(), "cpu_model": _cpu_model(), "platform": platform.platform()}
    try:
        import jax

        devices = jax.local_devices()
        info.update(
            backend=jax.default_backend(),
            device_kind=devices[0].device_kind,
            device_count=len(devices),
        )
    except ImportError:
        info.update(backend="none", device_kind="none", device_count=0)
    return info


def device_slug(info: dict[str, Any]) -> str:
    """A short file-name tag for the device: ``cpu2`` (2 host CPUs) or e.g. ``nvidia-h100-80gb-hbm3``."""
    if info.get("backend") in ("cpu", "none"):
        return f"cpu{info['host_cpus']}"
    return re.sub(r"[^a-z0-9]+", "-", str(info["device_kind"]).lower()).strip("-")


def command() -> str:
    """The exact command line that produced this result (relative to the repository root)."""
    return shlex.join(["python", *sys.argv])


def git_commit() -> str | None:
    """The repository's HEAD commit, with ``+dirty`` if tracked files changed (None outside git)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode:
            return None
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=root, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.returncode else "")


def record(name: str, results: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A result record: name, date (UTC), command, commit, device, versions, then ``extra`` and ``results``."""
    return {
        "name": name,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command(),
        "commit": git_commit(),
        "device": device(),
        "versions": versions(),
        **extra,
        "results": results,
    }


def write(rec: dict[str, Any], out_dir: str | os.PathLike | None = None) -> Path:
    """Write ``rec`` as ``<name>_<device>_<date>.json`` in ``out_dir`` (default experiments/results)."""
    folder = Path(out_dir) if out_dir is not None else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{rec['name']}_{device_slug(rec['device'])}_{rec['date'][:10]}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(rec, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    return path
