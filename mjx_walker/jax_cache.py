"""JAX's persistent compilation cache: repeated compiles of the same functions come from disk."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CACHE = Path.home() / ".cache" / "mjx_walker" / "jax"


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``path``, else ``$MJX_WALKER_JAX_CACHE``, else ~/.cache/mjx_walker/jax."""
    return Path(path or os.environ.get("MJX_WALKER_JAX_CACHE") or DEFAULT_CACHE)


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path:
    """Turn on JAX's persistent cache (every compile over 1 s is kept); returns the folder used."""
    import jax

    folder = cache_dir(path)
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
