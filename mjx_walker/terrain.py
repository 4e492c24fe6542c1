"""The ground under the robot: a flat plane, a curriculum field of tiles, or a named test terrain.

NumPy only: the model builder (:mod:`mjx_walker.model`) turns the scene's floor geom into a MuJoCo
heightfield made here, so MJX, the MuJoCo C training backend and ``evaluate`` load the same ground.
The floor keeps its name, its friction and its contact pairs; only its shape changes.

Kinds (:attr:`mjx_walker.configs.TerrainConfig.kind`):

* ``flat``: the scene's plane.
* ``tiles``: training's field, in the manner of legged_gym and Isaac Lab's terrain generator: a
  grid of square tiles, one row per difficulty level, columns alternating rough ground (smooth
  random bumps) and small steps (random raised blocks). Row ``l`` of ``L`` reaches
  ``max_height_m * l / (L - 1)``, so level 0 is flat. A flat border of one tile rings the grid.
* ``rough:H``, ``steps:H``, ``step:H``: evaluation terrains filling a square of
  :data:`NAMED_HALF_M` m around the start: bumps up to H m, random blocks of up to H m, or one step
  up of H m at :data:`STEP_RADIUS_M` from the start.

Every terrain has a flat pad of :data:`PAD_RADIUS_M` at height 0 where an episode starts, so the
robot's standing pose needs no change. Heights are never below 0: the floor's lowest point stays at
z = 0, where rewards measure foot heights from (as MuJoCo Playground's rough-terrain tasks do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mujoco
import numpy as np

if TYPE_CHECKING:  # configs imports this module to validate the kind
    from mjx_walker.configs import TerrainConfig

FLAT, TILES = "flat", "tiles"
NAMED = ("rough", "steps", "step")  # evaluation terrains, written "<name>:<height m>"
NAMED_HALF_M = 12.0  # m, half the side of a named terrain's square
PAD_RADIUS_M = 0.6  # m, flat ground around every start position
STEP_RADIUS_M = 1.0  # m, where ``step:H`` rises
BUMP_SPACING_M = 0.4  # m, the lattice of random heights that rough ground interpolates
BASE_DEPTH_M = 0.1  # m, the heightfield's solid depth below z = 0


@dataclass(frozen=True)
class Heightfield:
    """Heights on a regular grid centred on the world origin."""

    heights: np.ndarray  # (nrow, ncol) m >= 0; row r is y, column c is x
    cell_m: float  # grid spacing, m

    @property
    def half_size(self) -> tuple[float, float]:
        """(x, y) half extents, m."""
        nrow, ncol = self.heights.shape
        return 0.5 * (ncol - 1) * self.cell_m, 0.5 * (nrow - 1) * self.cell_m

    def height_at(self, x: float, y: float) -> float:
        """The grid height nearest to world (x, y), m (0 outside the grid)."""
        sx, sy = self.half_size
        c, r = round((x + sx) / self.cell_m), round((y + sy) / self.cell_m)
        nrow, ncol = self.heights.shape
        return float(self.heights[r, c]) if 0 <= r < nrow and 0 <= c < ncol else 0.0


def parse_kind(kind: str) -> tuple[str, float]:
    """(name, height m) of a terrain kind; raises ValueError naming what is allowed."""
    if kind in (FLAT, TILES):
        return kind, 0.0
    name, _, height = kind.partition(":")
    allowed = f"'{FLAT}', '{TILES}', or one of {', '.join(NAMED)} as '<name>:<height m>' (e.g. 'rough:0.03')"
    try:
        value = float(height)
    except ValueError:
        value = float("nan")
    if name not in NAMED or not 0.0 < value <= 0.5:
        raise ValueError(f"expected {allowed}, height in (0, 0.5] m")
    return name, value


def _grid(half_x: float, half_y: float, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """World (x, y) of every grid point, each (nrow, ncol)."""
    xs = np.linspace(-half_x, half_x, int(round(2 * half_x / cell)) + 1)
    ys = np.linspace(-half_y, half_y, int(round(2 * half_y / cell)) + 1)
    return np.meshgrid(xs, ys)


def _bumps(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smooth random heights in [0, 1] at (x, y): a coarse random lattice, bilinearly interpolated."""
    x0, y0 = x.min(), y.min()
    nx = int(np.ceil((x.max() - x0) / BUMP_SPACING_M)) + 2
    ny = int(np.ceil((y.max() - y0) / BUMP_SPACING_M)) + 2
    lattice = rng.uniform(0.0, 1.0, (ny, nx))
    u, v = (x - x0) / BUMP_SPACING_M, (y - y0) / BUMP_SPACING_M
    i, j = np.floor(v).astype(int), np.floor(u).astype(int)
    fv, fu = v - i, u - j
    top = lattice[i, j] * (1 - fu) + lattice[i, j + 1] * fu
    bottom = lattice[i + 1, j] * (1 - fu) + lattice[i + 1, j + 1] * fu
    return top * (1 - fv) + bottom * fv


def _blocks(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, per_m2: float = 0.6) -> np.ndarray:
    """Random raised rectangles 0.4-1.2 m a side, heights in [0.5, 1], over the area of (x, y)."""
    out = np.zeros_like(x)
    x0, x1, y0, y1 = x.min(), x.max(), y.min(), y.max()
    for _ in range(int(per_m2 * (x1 - x0) * (y1 - y0))):
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        wx, wy = rng.uniform(0.2, 0.6, 2)
        inside = (np.abs(x - cx) <= wx) & (np.abs(y - cy) <= wy)
        out = np.where(inside, np.maximum(out, rng.uniform(0.5, 1.0)), out)
    return out


def _pad(heights: np.ndarray, x: np.ndarray, y: np.ndarray, cx: float, cy: float) -> np.ndarray:
    """``heights`` with the disc of :data:`PAD_RADIUS_M` around (cx, cy) set to 0."""
    return np.where(np.hypot(x - cx, y - cy) <= PAD_RADIUS_M, 0.0, heights)


def tile_centres(cfg: TerrainConfig) -> np.ndarray:
    """(levels, columns, 2) world (x, y) of every tile's centre, m; row l is level l."""
    half_x, half_y = 0.5 * cfg.columns * cfg.tile_m, 0.5 * cfg.levels * cfg.tile_m
    cx = -half_x + cfg.tile_m * (np.arange(cfg.columns) + 0.5)
    cy = -half_y + cfg.tile_m * (np.arange(cfg.levels) + 0.5)
    return np.stack(np.meshgrid(cx, cy), axis=-1)


def tiles_field(cfg: TerrainConfig) -> Heightfield:
    """Training's curriculum field (see the module docstring), reproducible from ``cfg.seed``."""
    rng = np.random.default_rng(cfg.seed)
    half_x, half_y = 0.5 * (cfg.columns + 2) * cfg.tile_m, 0.5 * (cfg.levels + 2) * cfg.tile_m
    x, y = _grid(half_x, half_y, cfg.cell_m)
    heights = np.zeros_like(x)
    centres = tile_centres(cfg)
    half_tile = 0.5 * cfg.tile_m
    for level in range(cfg.levels):
        scale = cfg.max_height_m * level / max(cfg.levels - 1, 1)
        for column in range(cfg.columns):
            cx, cy = centres[level, column]
            inside = (np.abs(x - cx) < half_tile) & (np.abs(y - cy) < half_tile)
            shape = _bumps if column % 2 == 0 else _blocks
            tile = _pad(scale * shape(rng, x[inside], y[inside]), x[inside], y[inside], cx, cy)
            heights[inside] = tile
    return Heightfield(heights.astype(np.float32), cfg.cell_m)


def named_field(name: str, height_m: float, cell_m: float, seed: int) -> Heightfield:
    """An evaluation terrain (``rough``, ``steps`` or ``step``) of ``height_m`` around the origin."""
    rng = np.random.default_rng(seed)
    x, y = _grid(NAMED_HALF_M, NAMED_HALF_M, cell_m)
    if name == "step":
        heights = np.where(np.hypot(x, y) >= STEP_RADIUS_M, height_m, 0.0)
    else:
        heights = _pad(height_m * (_bumps if name == "rough" else _blocks)(rng, x, y), x, y, 0.0, 0.0)
    return Heightfield(heights.astype(np.float32), cell_m)


def heightfield(cfg: TerrainConfig) -> Heightfield | None:
    """The ground ``cfg`` describes; None for the flat plane."""
    name, height = parse_kind(cfg.kind)
    if name == FLAT:
        return None
    if name == TILES:
        return tiles_field(cfg)
    return named_field(name, height, cfg.cell_m, cfg.seed)


def add_to_spec(spec: mujoco.MjSpec, floor_name: str, field: Heightfield) -> None:
    """Turn the geom ``floor_name`` of ``spec`` into a heightfield geom of ``field``.

    MuJoCo scales elevation data in [0, 1] by the hfield's z size: the data is stored normalized
    (max 1, min 0 at the start pads), so MuJoCo's own normalization leaves it unchanged.
    """
    top = float(field.heights.max())
    sx, sy = field.half_size
    nrow, ncol = field.heights.shape
    hfield = spec.add_hfield(name=f"{floor_name}_terrain", nrow=nrow, ncol=ncol)
    hfield.size = [sx, sy, max(top, 1e-6), BASE_DEPTH_M]
    hfield.userdata = (field.heights / max(top, 1e-6)).ravel().tolist()
    floor = spec.geom(floor_name)
    floor.type = mujoco.mjtGeom.mjGEOM_HFIELD
    floor.hfieldname = hfield.name
    floor.pos = [0.0, 0.0, 0.0]
