"""Terrain: the heightfields, the same ground in MJX and MuJoCo C, the start on a tile, the curriculum."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from mjx_walker import curriculum, terrain
from mjx_walker.configs import ConfigError, EnvConfig, SimConfig, TerrainConfig
from mjx_walker.model import build_robot_model

TILES = TerrainConfig(kind="tiles")


@pytest.mark.parametrize(
    ("kind", "words"),
    [("hills", "kind = 'hills' is invalid"), ("rough:0", "height in \\(0, 0.5\\]"), ("step:x", "'<name>:<height m>'")],
)
def test_a_bad_kind_is_refused_naming_the_field(kind, words):
    with pytest.raises(ConfigError, match=words):
        TerrainConfig(kind=kind)


def test_start_levels_must_lie_on_the_field():
    with pytest.raises(ConfigError, match=r"start_levels = \(0, 6\) is invalid: expected levels within 0..5"):
        TerrainConfig(start_levels=(0, 6))


def test_tile_levels_rise_as_configured_and_every_start_is_flat():
    field = terrain.tiles_field(TILES)
    centres = terrain.tile_centres(TILES)
    for level in range(TILES.levels):
        top = TILES.max_height_m * level / (TILES.levels - 1)
        for x, y in centres[level]:
            sx, sy = field.half_size
            c0, r0 = int(round((x - 3.5 + sx) / 0.1)), int(round((y - 3.5 + sy) / 0.1))
            tile = field.heights[r0 : r0 + 71, c0 : c0 + 71]  # the tile but its edges
            assert tile.max() <= top + 1e-6 and (level == 0 or tile.max() > 0.8 * top), (level, tile.max())
            assert field.height_at(x + 0.4, y - 0.3) == 0.0  # the start pad
    assert field.heights.min() == 0.0


def test_named_terrains_have_the_height_they_name():
    step = terrain.named_field("step", 0.05, 0.1, seed=0)
    assert step.height_at(0.0, 0.0) == 0.0 and step.height_at(0.5, 0.0) == 0.0
    assert step.height_at(1.2, 0.0) == pytest.approx(0.05) and step.height_at(0.0, -3.0) == pytest.approx(0.05)
    rough = terrain.named_field("rough", 0.03, 0.1, seed=0)
    assert 0.025 < rough.heights.max() <= 0.03 and rough.height_at(0.3, 0.3) == 0.0


def test_mujoco_loads_the_field_at_its_heights():
    """A ray cast down onto the compiled model's floor meets the generated height."""
    robot = build_robot_model("berkeley_humanoid", terrain=TerrainConfig(kind="steps:0.04"))
    field = terrain.named_field("steps", 0.04, 0.1, seed=0)
    m, d = robot.mj_model, mujoco.MjData(robot.mj_model)
    mujoco.mj_forward(m, d)
    assert m.geom_type[robot.floor_geom] == mujoco.mjtGeom.mjGEOM_HFIELD
    rows, cols = np.nonzero(field.heights > 0.035)
    for r, c in list(zip(rows, cols, strict=True))[:: max(1, len(rows) // 20)]:
        x, y = -12.0 + 0.1 * c, -12.0 + 0.1 * r
        geomid = np.zeros(1, np.int32)
        dist = mujoco.mj_ray(m, d, [x, y, 1.0], [0, 0, -1], None, 1, -1, geomid)
        assert geomid[0] == robot.floor_geom and 1.0 - dist == pytest.approx(field.heights[r, c], abs=1e-4)


def test_the_curriculum_moves_levels_up_down_and_stays_on_the_field():
    level = jnp.int32(2)
    assert int(curriculum.next_level(TILES, level, jnp.float32(3.0), jnp.bool_(False))) == 3
    assert int(curriculum.next_level(TILES, level, jnp.float32(1.0), jnp.bool_(False))) == 2
    assert int(curriculum.next_level(TILES, level, jnp.float32(9.0), jnp.bool_(True))) == 1
    assert int(curriculum.next_level(TILES, jnp.int32(5), jnp.float32(9.0), jnp.bool_(False))) == 5
    assert int(curriculum.next_level(TILES, jnp.int32(0), jnp.float32(0.0), jnp.bool_(True))) == 0
    flat = TerrainConfig()
    assert int(curriculum.next_level(flat, jnp.int32(0), jnp.float32(9.0), jnp.bool_(False))) == 0


@pytest.fixture(scope="module")
def tiles_c_training_env():
    """The test preset's env on MuJoCo C physics and the tiles field, wrapped for training."""
    from mjx_walker.brax_env import BraxWalkEnv, wrap_for_training
    from mjx_walker.env import WalkEnv

    cfg = EnvConfig(terrain=dataclasses.replace(TILES, start_levels=(2, 3), promote_m=0.0))
    env = WalkEnv(dataclasses.replace(cfg, sim=SimConfig(backend="mujoco")))
    return env, wrap_for_training(BraxWalkEnv(env), episode_length=20)


def test_episodes_start_on_their_levels_tile_and_survivors_move_up(tiles_c_training_env):
    env, wrapped = tiles_c_training_env
    state = jax.jit(wrapped.reset)(jax.random.split(jax.random.PRNGKey(0), 8))
    levels = np.asarray(state.pipeline_state.terrain_level)
    assert set(levels.tolist()) <= {2, 3} and len(set(levels.tolist())) == 2
    centres = terrain.tile_centres(TILES)
    xy = np.asarray(state.pipeline_state.data.qpos[:, :2])
    for (x, y), level in zip(xy, levels, strict=True):
        assert np.min(np.linalg.norm(centres[level] - [x, y], axis=-1)) < 1e-5
    step = jax.jit(wrapped.step)
    hold = jnp.zeros((8, env.action_size))
    for _ in range(20):  # the 20-step time limit: standing envs are promoted (promote_m = 0), fallen ones not
        state = step(state, hold)
    stood = np.asarray(state.info["truncation"]) > 0
    after = np.asarray(state.pipeline_state.terrain_level)
    assert stood.any()
    np.testing.assert_array_equal(after[stood], np.minimum(levels[stood] + 1, TILES.levels - 1))


def test_mjx_and_mujoco_c_see_the_same_ground():
    """The C servo model carries the same heightfield; MJX and C find the feet touching a raised block alike."""
    from mujoco import mjx

    from mjx_walker.c_pool import build_servo_model
    from mjx_walker.physics_mjx import CONTACT_TOLERANCE

    robot = build_robot_model("berkeley_humanoid", terrain=TerrainConfig(kind="step:0.05"))
    np.testing.assert_array_equal(build_servo_model(robot).model.hfield_data, robot.mj_model.hfield_data)
    m = robot.mj_model
    d = mujoco.MjData(m)
    d.qpos[:] = robot.default_qpos
    d.qpos[0], d.qpos[2] = 3.0, robot.default_qpos[2] + 0.05  # standing on the step's top, 3 m out
    mujoco.mj_forward(m, d)
    feet = set(robot.foot_geoms[robot.foot_geoms >= 0].tolist())
    c_touch = {int(g) for c in d.contact[: d.ncon] for g in c.geom if c.dist < CONTACT_TOLERANCE} & feet
    mm = mjx.put_model(m)  # kinematics and collision only: a full forward pass compiles far longer
    mx = jax.jit(lambda q: mjx.collision(mm, mjx.kinematics(mm, mjx.make_data(m).replace(qpos=q))))(
        jnp.asarray(d.qpos, jnp.float32)
    )
    contact = mx._impl.contact
    touching = np.asarray(contact.dist) < CONTACT_TOLERANCE
    mjx_touch = {int(g) for pair in np.asarray(contact.geom)[touching] for g in pair} & feet
    assert c_touch == mjx_touch == feet
    d.qpos[2] += 0.02  # 2 cm above it: neither touches
    mujoco.mj_forward(m, d)
    assert not any(c.dist < CONTACT_TOLERANCE for c in d.contact[: d.ncon])
