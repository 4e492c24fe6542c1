"""The terrain curriculum, in-graph: where an episode starts and how an env's level moves.

On the ``tiles`` field (:mod:`mjx_walker.terrain`) every env carries a level. Its first level is
drawn from ``TerrainConfig.start_levels``; each episode starts at the centre of a random tile of
that level's row. When an episode ends, an env that stayed up and walked ``promote_m`` goes one
level up, one that fell goes one down (clipped to the field), as in legged_gym's terrain curriculum.
On other terrains the level stays 0 and episodes start at the origin.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mjx_walker.configs import TerrainConfig
from mjx_walker.terrain import TILES, tile_centres


def start_level(key: jax.Array, cfg: TerrainConfig) -> jax.Array:
    """() int32: an env's first level, uniform over ``cfg.start_levels`` (0 off the tiles field)."""
    if cfg.kind != TILES:
        return jnp.int32(0)
    lo, hi = cfg.start_levels
    return jax.random.randint(key, (), lo, hi + 1, jnp.int32)


def spawn_xy(key: jax.Array, cfg: TerrainConfig, level: jax.Array) -> jax.Array:
    """(2,) m: the centre of a random tile of ``level`` (the origin off the tiles field)."""
    if cfg.kind != TILES:
        return jnp.zeros(2, jnp.float32)
    column = jax.random.randint(key, (), 0, cfg.columns)
    return jnp.asarray(tile_centres(cfg), jnp.float32)[level, column]


def next_level(cfg: TerrainConfig, level: jax.Array, walked_m: jax.Array, fell: jax.Array) -> jax.Array:
    """The level after an episode: up after ``promote_m`` walked without a fall, down after a fall.

    ``level`` () int32, ``walked_m`` () m from the start, ``fell`` () bool. Unchanged off the tiles field.
    """
    if cfg.kind != TILES:
        return level
    up = (~fell) & (walked_m >= cfg.promote_m)
    return jnp.clip(level + up.astype(jnp.int32) - fell.astype(jnp.int32), 0, cfg.levels - 1)
