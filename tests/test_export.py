"""Export: ONNX/JAX parity, metadata round trip, opset/IR targets, failure on mismatch."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from runner_helpers import SMALL_PPO, export_run_dir, exported_policy, small_policy

from mjx_walker.export import PARITY_TOL, ParityError, export_policy, main, random_observations
from mjx_walker.onnx_meta import build_meta, config_digest, read_meta
from mjx_walker.policy import load_policy


@pytest.fixture(scope="module")
def export(default_env):
    return exported_policy(default_env)


def test_parity_random_and_rollout(export, default_env):
    assert export.max_abs_diff_random <= PARITY_TOL
    assert export.max_abs_diff_real <= PARITY_TOL
    policy = load_policy(export_run_dir())
    obs = random_observations(export.meta, 80, seed=3)
    session = ort.InferenceSession(str(export.path), providers=["CPUExecutionProvider"])
    onnx_act = session.run(["action"], {"obs": obs})[0]
    jax_act = np.asarray(policy.act(obs))
    assert onnx_act.shape == (80, default_env.action_size)
    np.testing.assert_allclose(onnx_act, jax_act, atol=PARITY_TOL)
    # dynamic batch: one observation at a time gives the same actions
    np.testing.assert_allclose(session.run(["action"], {"obs": obs[:1]})[0], onnx_act[:1], atol=1e-6)


def test_metadata_round_trip(export, default_env):
    model = onnx.load(str(export.path))
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version == 9
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    meta = read_meta(export.path)
    assert meta == export.meta
    robot = default_env.robot
    assert meta.robot == default_env.cfg.robot.name
    assert meta.joint_names == list(robot.joint_names)
    np.testing.assert_allclose(meta.default_joint_pos, robot.default_joint_pos)
    np.testing.assert_allclose(meta.kp, robot.kp)
    np.testing.assert_allclose(meta.kd, robot.kd)
    np.testing.assert_allclose(meta.torque_limit, robot.torque_limit)
    assert meta.ctrl_dt == default_env.cfg.sim.ctrl_dt and meta.sim_dt == default_env.cfg.sim.sim_dt
    assert meta.obs_dim == default_env.actor_layout.size
    assert [b["name"] for b in meta.obs_layout] == [n for n, _ in default_env.actor_layout.blocks]
    assert all(b["scale"] == 1.0 and b["noise"] == 0.0 for b in meta.obs_layout)
    lo, hi = default_env.cfg.command.gait_frequency_hz
    assert meta.gait_frequency_hz == pytest.approx((lo + hi) / 2)
    assert meta.config_digest == config_digest(default_env.cfg, SMALL_PPO)
    assert meta.versions["jax2onnx"] and meta.parity_max_abs_diff <= meta.parity_tolerance


def test_digest_changes_with_config(default_env):
    import dataclasses

    other = dataclasses.replace(default_env.cfg, sim=dataclasses.replace(default_env.cfg.sim, ctrl_dt=0.04))
    assert config_digest(other, SMALL_PPO) != config_digest(default_env.cfg, SMALL_PPO)
    assert build_meta(default_env.cfg, SMALL_PPO, default_env.robot).config_digest == config_digest(
        default_env.cfg, SMALL_PPO
    )


def test_export_fails_beyond_tolerance(tmp_path, default_env):
    policy = small_policy(default_env.robot.nu, default_env.cfg)
    with pytest.raises(ParityError, match="differ"):
        export_policy(policy, tmp_path / "bad.onnx", tol=-1.0, env=default_env, rollout_steps=0)
    assert not (tmp_path / "bad.onnx").exists()


def test_cli_export(tmp_path, export):
    out = tmp_path / "cli.onnx"
    assert main([str(export_run_dir()), "--out", str(out), "--rollout-steps", "0"]) == 0
    assert read_meta(out).config_digest == export.meta.config_digest


def test_missing_source_is_clear(tmp_path):
    assert main([str(tmp_path / "nope"), "--out", str(tmp_path / "x.onnx")]) == 1
