"""Silence mujoco's notice that its optional warp backend is absent, and nothing else.

``import mujoco.mjx`` imports ``mujoco.mjx.warp``, which ``print``s "Failed to import warp: No
module named 'warp'" and "Failed to import mujoco_warp: ..." to stdout when the optional NVIDIA
Warp package is not installed (it is not needed here: MJX runs on JAX). A finder on
``sys.meta_path`` runs that one module with stdout captured and writes back every line except
those two notices about a *missing* ``warp``; any other output, and any exception, goes through
unchanged (a warp that is installed but broken is still reported).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import io
import re
import sys
from collections.abc import Sequence
from types import ModuleType

_MODULE = "mujoco.mjx.warp"
_NOTICE = re.compile(r"Failed to import (warp|mujoco_warp): No module named 'warp'\s*")


class _QuietLoader(importlib.abc.Loader):
    """Wraps a module's loader: runs it with stdout captured, then re-emits all but the notices."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        """Wrap ``loader``."""
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        """Delegate to the wrapped loader."""
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        """Execute the module with stdout captured; write back every line but the warp notices."""
        captured = io.StringIO()
        try:
            with contextlib.redirect_stdout(captured):
                self._loader.exec_module(module)
        finally:
            kept = [line for line in captured.getvalue().splitlines(True) if not _NOTICE.fullmatch(line)]
            sys.stdout.write("".join(kept))


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``mujoco.mjx.warp`` as usual and wraps its loader in :class:`_QuietLoader`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """The normal spec of ``mujoco.mjx.warp`` with a quiet loader; None for any other module."""
        if fullname != _MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def silence_warp_notice() -> None:
    """Install the finder (once; a no-op if mujoco.mjx was imported already)."""
    if _MODULE in sys.modules or any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietFinder())
