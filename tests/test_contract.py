"""The training-robot contract exists once: NumPy-only modules that give JAX and NumPy the same answers.

The environment (JAX) and the runner (NumPy, no JAX on the robot) call the same functions for the
gait clock, the lag buffer, the PD law, the IMU reading, the fall test and the physics shift; here
each is checked against hand-computed values on both array kinds, and the modules are imported in
a process where JAX cannot load.
"""

from __future__ import annotations

import math
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from mjx_walker import gait, lag, pd, physics_shift, sensing

CONTRACT = ("gait", "lag", "pd", "sensing", "physics_shift", "obs_terms")


def test_contract_modules_import_without_jax():
    code = (
        "import importlib, importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in ('jax', 'jaxlib', 'flax', 'mujoco'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {CONTRACT!r}:\n"
        "    importlib.import_module('mjx_walker.' + m)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("xp", [np, jnp], ids=["numpy", "jax"])
def test_gait_clock_by_hand(xp):
    phase = xp.asarray(gait.initial_phase())
    np.testing.assert_allclose(phase, [0.0, -math.pi], atol=1e-6)
    quarter = gait.advance(phase, xp.float32(1.25), 0.2)  # 1.25 Hz x 0.2 s = a quarter cycle
    np.testing.assert_allclose(quarter, [math.pi / 2, -math.pi / 2], atol=1e-5)
    wrapped = gait.advance(xp.asarray([3.0, -3.0], xp.float32), xp.float32(1.0), 0.5)  # + pi, wrapped
    np.testing.assert_allclose(wrapped, [3.0 - math.pi, -3.0 + math.pi], atol=1e-5)
    np.testing.assert_allclose(gait.swing_height(quarter, 0.1), [0.1, 0.0], atol=1e-6)


@pytest.mark.parametrize("xp", [np, jnp], ids=["numpy", "jax"])
def test_lag_buffer_delays_by_exactly_lag_pushes(xp):
    buf = lag.init_buffer(xp.zeros(2, xp.float32), 3)
    assert buf.shape == (4, 2)
    for k in range(1, 6):
        buf = lag.push(buf, xp.full(2, float(k), xp.float32))
        for delay in range(4):
            expected = max(k - delay, 0)
            np.testing.assert_array_equal(lag.read(buf, delay), [expected, expected])


@pytest.mark.parametrize("xp", [np, jnp], ids=["numpy", "jax"])
def test_pd_law_by_hand(xp):
    tau = pd.pd_torque(
        xp.asarray([0.1, 0.0]),
        xp.asarray([1.0, -2.0]),
        xp.asarray([0.3, 0.5]),
        xp.asarray([10.0, 100.0]),
        xp.asarray([0.5, 1.0]),
        xp.asarray([5.0, 20.0]),
    )
    np.testing.assert_allclose(tau, [10 * 0.2 - 0.5, 20.0], rtol=1e-6)  # second one clipped from 52


@pytest.mark.parametrize("xp", [np, jnp], ids=["numpy", "jax"])
def test_imu_and_fall_test_by_hand(xp):
    c, s = math.cos(0.5), math.sin(0.5)
    pitched = xp.asarray([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])  # 0.5 rad about y
    gyro, gravity = sensing.imu_reading(pitched, xp.asarray([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(gyro, [-s, 0.0, c], atol=1e-6)
    np.testing.assert_allclose(gravity, [s, 0.0, -c], atol=1e-6)
    assert not bool(sensing.fell(pitched, 0.5, 0.6, 0.3))
    assert bool(sensing.fell(pitched, 0.5, 0.4, 0.3))  # tilted beyond 0.4 rad
    assert bool(sensing.fell(pitched, 0.2, 0.6, 0.3))  # too low


def test_physics_shift_same_on_numpy_and_jax():
    rng = np.random.default_rng(0)
    mass, inertia = np.r_[0.0, rng.uniform(0.5, 3.0, 4)], np.r_[[[0.0] * 3], rng.uniform(0.01, 0.1, (4, 3))]
    scale = np.r_[1.0, rng.uniform(0.9, 1.1, 4)]
    m_np, i_np = physics_shift.shift_masses(mass, inertia, scale, 2.0, 1)
    m_jx, i_jx = physics_shift.shift_masses(jnp.asarray(mass), jnp.asarray(inertia), jnp.asarray(scale), 2.0, 1)
    expected = mass * scale
    expected[1] += 2.0
    np.testing.assert_allclose(m_np, expected)
    np.testing.assert_allclose(i_np[1], inertia[1] * scale[1] * expected[1] / (mass[1] * scale[1]))
    np.testing.assert_allclose(i_np[2:], inertia[2:] * scale[2:, None])
    np.testing.assert_allclose(m_jx, m_np, rtol=1e-6)
    np.testing.assert_allclose(i_jx, i_np, rtol=1e-6)
    geom, pair = np.full((3, 3), 0.5), np.full((2, 5), 0.7)
    g_np, p_np = physics_shift.shift_friction(geom, pair, 2, np.array([1]), 0.3)
    g_jx, p_jx = physics_shift.shift_friction(jnp.asarray(geom), jnp.asarray(pair), 2, np.array([1]), 0.3)
    assert g_np[2, 0] == 0.3 and (g_np[2, 1:] == 0.5).all() and (g_np[:2] == 0.5).all()
    np.testing.assert_array_equal(p_np, [[0.7] * 5, [0.3, 0.3, 0.7, 0.7, 0.7]])
    np.testing.assert_allclose(g_jx, g_np, rtol=1e-6)
    np.testing.assert_allclose(p_jx, p_np, rtol=1e-6)


def test_one_measurement_type_for_the_env_and_the_robot():
    """The env's Measurement (a JAX pytree) is the type the runner's RobotState reports."""
    import jax

    from mjx_walker.runner.backend import RobotState
    from mjx_walker.state import Measurement

    state = RobotState(timestamp=0.0, joint_pos=np.ones(2), joint_vel=np.zeros(2), gyro=np.ones(3), gravity=-np.ones(3))
    meas = state.measurement
    assert type(meas) is Measurement and meas.joint_pos is state.joint_pos
    doubled = jax.tree.map(lambda x: 2 * x, meas)  # a pytree: vmap/jit carry it as training does
    assert type(doubled) is Measurement and np.allclose(doubled.gyro, 2.0)
