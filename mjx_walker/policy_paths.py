"""Where an exported policy lives: the ONNX file itself, a policy directory or a run directory.

``python -m mjx_walker.export RUN`` writes ``RUN/policy.onnx``; ``run``, ``evaluate`` and ``play``
then take ``RUN`` as well as the file. Standard library only: the robot side uses it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mjx_walker.onnx_meta import PolicyFileError

POLICY_ONNX = "policy.onnx"
POLICY_DIR = "policy"  # a run's final policy (parameters), where an export may also sit
STAGES_FILE = "stages.json"  # a staged run: one run directory per stage, in order
RUN_MARKERS = ("config.json", STAGES_FILE, f"{POLICY_DIR}/policy.json")


def is_run_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a training run directory (plain or staged)."""
    return any((Path(path) / marker).is_file() for marker in RUN_MARKERS)


def stage_names(run: str | os.PathLike) -> list[str]:
    """The stage names of a staged run, in training order ([] for a plain run or an unreadable file)."""
    path = Path(run) / STAGES_FILE
    try:
        stages = json.loads(path.read_text())["stages"]
        return [str(s["name"]) for s in stages]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def policy_candidates(directory: str | os.PathLike) -> list[Path]:
    """Where a directory's policy file may be, most preferred first.

    ``DIR/policy.onnx``, ``DIR/policy/policy.onnx``, then for a staged run the same under each
    stage, the last stage first.
    """
    root = Path(directory)
    places = [root, *(root / name for name in reversed(stage_names(root)))]
    return [p for place in places for p in (place / POLICY_ONNX, place / POLICY_DIR / POLICY_ONNX)]


def resolve_policy(path: str | os.PathLike) -> Path:
    """The ONNX file for ``path``: the file itself, or the policy file of a policy or run directory.

    A path that does not exist is returned unchanged (loading it says so). PolicyFileError (one
    line) for a directory holding no exported policy, naming the export command that makes one.
    """
    path = Path(path)
    if not path.is_dir():
        return path
    for candidate in policy_candidates(path):
        if candidate.is_file():
            return candidate
    hint = f"python -m mjx_walker.export {path}" if is_run_dir(path) else "python -m mjx_walker.export RUN"
    raise PolicyFileError(
        f"{path}: a directory without an exported policy (no {POLICY_ONNX} there, in {POLICY_DIR}/ or in a "
        f"stage's directory); export one with `{hint}`"
    )
