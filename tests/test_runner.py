"""Runner: ONNX loading checks, NumPy/JAX observation agreement, the loop in MuJoCo C."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import onnx
import pytest
from mujoco import mjx
from onnx import TensorProto, helper
from runner_helpers import exported_policy

from mjx_walker.observation import build_actor_obs, measure
from mjx_walker.onnx_meta import read_meta, write_meta
from mjx_walker.run import main
from mjx_walker.runner import MuJoCoBackend, OnnxPolicy, PolicyMismatchError, SafetyConfig, SimShift, run_policy
from mjx_walker.runner.backend import Clock
from mjx_walker.runner.loop import run_loop
from mjx_walker.state import Measurement


@pytest.fixture(scope="module")
def export(default_env):
    return exported_policy(default_env)


def test_wrong_observation_size_rejected(tmp_path, export):
    meta = read_meta(export.path)
    wrong = meta.obs_dim - 9
    weights = helper.make_tensor("w", TensorProto.FLOAT, (wrong, meta.nu), np.zeros(wrong * meta.nu).tolist())
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["obs", "w"], ["action"])],
        "wrong",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", wrong])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", meta.nu])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    write_meta(model, meta)
    path = tmp_path / "wrong.onnx"
    onnx.save(model, str(path))
    with pytest.raises(PolicyMismatchError, match=f"observation size is {wrong} but its layout builds {meta.obs_dim}"):
        OnnxPolicy(path, verbose=False)


def test_onnx_without_metadata_rejected(tmp_path, export):
    model = onnx.load(str(export.path))
    del model.metadata_props[:]
    onnx.save(model, str(tmp_path / "bare.onnx"))
    with pytest.raises(ValueError, match="no mjx_walker metadata"):
        OnnxPolicy(tmp_path / "bare.onnx", verbose=False)


def test_numpy_observation_matches_jax(default_env):
    env = default_env
    state, _ = jax.jit(env.reset)(jax.random.PRNGKey(7))
    rng = np.random.default_rng(0)
    data = state.data
    qpos = data.qpos.at[env.robot.qpos_adr].add(jnp.asarray(rng.uniform(-0.2, 0.2, env.robot.nu), jnp.float32))
    qvel = jnp.asarray(rng.uniform(-1.0, 1.0, env.robot.mj_model.nv), jnp.float32)
    data = jax.jit(mjx.forward)(env.mjx_model, data.replace(qpos=qpos, qvel=qvel))
    last_action = rng.uniform(-1, 1, env.robot.nu).astype(np.float32)
    command = np.array([0.4, -0.2, 0.3], np.float32)
    phase = np.array([1.0, -2.1], np.float32)
    jax_obs = build_actor_obs(
        measure(env.robot, data, env.sim.readout(data)),
        jnp.asarray(last_action),
        jnp.asarray(command),
        jnp.asarray(phase),
        env.default_joint_pos,
    )

    backend = MuJoCoBackend(env.robot)
    backend.data = mjx.get_data(env.robot.mj_model, data)
    assert isinstance(backend.data, mujoco.MjData)
    reading = backend.read_state()
    meas = Measurement(
        *(np.asarray(getattr(reading, k), np.float32) for k in ("gyro", "gravity", "joint_pos", "joint_vel"))
    )
    np_obs = build_actor_obs(meas, last_action, command, phase, env.robot.default_joint_pos.astype(np.float32))
    assert isinstance(np_obs, np.ndarray) and np_obs.dtype == np.float32
    assert np.abs(np.asarray(jax_obs)[:3]).max() > 0.1  # the state is not trivial
    np.testing.assert_allclose(np_obs, np.asarray(jax_obs), atol=1e-5)


def test_run_policy_in_mujoco(export):
    result = run_policy(
        export.path, "mujoco", (0.3, 0.0, 0.0), 0.5, safety=SafetyConfig(ramp_duration_s=0.1), verbose=False
    )
    s = result.stats
    # the sim starts in the default pose, so the configured ramp is skipped and the policy runs every tick
    assert s.ticks == 25 and s.policy_ticks == 25 and len(s.inference_s) == s.policy_ticks
    assert s.provider == "CPUExecutionProvider" and s.final_mode in ("policy", "stopped")
    # physics caught up to the end of the run, where the loop's final damp command synced it
    per_tick = round(result.meta.ctrl_dt / result.meta.sim_dt)
    assert per_tick == 5  # the default 20 ms control period over 4 ms substeps
    assert result.backend.substeps == per_tick * s.ticks


def test_backend_lag_delays_targets(export):
    meta = read_meta(export.path)
    default = np.asarray(meta.default_joint_pos)

    def joints_after_two_substeps(lag: int, offset: float) -> np.ndarray:
        """Joint positions 4 ms after commanding default + offset."""
        be = MuJoCoBackend(meta.robot, SimShift(lag_substeps=lag))
        be.write_targets(default + offset, np.asarray(meta.kp), np.asarray(meta.kd))
        be.clock.sleep_until(0.004)
        return be.read_state().joint_pos

    base = joints_after_two_substeps(0, 0.0)
    assert np.abs(joints_after_two_substeps(0, 0.2) - base).max() > 1e-4  # acts at once
    np.testing.assert_array_equal(joints_after_two_substeps(5, 0.2), base)  # not yet applied


class LaggyClock(Clock):
    """Simulated clock where every ``now()`` call costs ``cost`` seconds of work."""

    def __init__(self, cost: float) -> None:
        self.t, self.cost = 0.0, cost

    def now(self) -> float:
        self.t += self.cost
        return self.t

    def sleep_until(self, deadline: float) -> None:
        self.t = max(self.t, deadline)


def test_schedule_is_drift_free(export):
    meta = read_meta(export.path)
    be = MuJoCoBackend(meta.robot, clock=LaggyClock(0.001))
    starts = []
    stats = run_loop(
        be,
        lambda o: np.zeros(meta.nu, np.float32),
        meta,
        np.zeros(3),
        1.0,
        SafetyConfig(ramp_duration_s=0.0),
        lambda tick: starts.append(tick.time) and None,
    )
    # tick k starts a fixed amount of work after k * period: no accumulation
    offsets = np.array(starts) - meta.ctrl_dt * np.arange(len(starts))
    assert np.ptp(offsets[1:]) < 1e-9 and stats.deadline_misses == 0
    be2 = MuJoCoBackend(meta.robot, clock=LaggyClock(0.01))  # each tick's work exceeds the period
    stats2 = run_loop(
        be2,
        lambda o: np.zeros(meta.nu, np.float32),
        meta,
        np.zeros(3),
        0.5,
        SafetyConfig(ramp_duration_s=0.0, stale_timeout_s=1.0),
    )
    assert stats2.deadline_misses == stats2.ticks > 0


def test_cli_run(export, capsys):
    assert main([str(export.path), "--duration", "0.2", "--command", "0.2,0,0"]) == 0
    assert '"ticks": 10' in capsys.readouterr().out
