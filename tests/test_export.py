"""Export: ONNX/JAX parity, metadata round trip, opset/IR targets, failure on mismatch."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from runner_helpers import SMALL_PPO, export_run_dir, exported_policy, small_meta, small_policy

from mjx_walker import export as export_module
from mjx_walker.brax_env import ACTOR_KEY
from mjx_walker.export import (
    PARITY_FAR,
    PARITY_TOL,
    ExportError,
    ParityError,
    export_policy,
    main,
    normalizer_stats,
    random_observations,
)
from mjx_walker.onnx_meta import build_meta, config_digest, read_meta
from mjx_walker.policy import load_policy


@pytest.fixture(scope="module")
def export(default_env):
    return exported_policy(default_env)


def test_parity_random_and_rollout(export, default_env):
    assert export.max_abs_diff_random <= PARITY_TOL
    assert export.max_abs_diff_real <= PARITY_TOL
    policy = load_policy(export_run_dir())
    obs = random_observations(*normalizer_stats(policy), 80, seed=3)
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


def test_export_fails_beyond_tolerance(tmp_path, monkeypatch):
    policy = small_policy(small_meta().nu)
    exact = export_module.onnx_actions
    monkeypatch.setattr(export_module, "onnx_actions", lambda model, obs: exact(model, obs) + 1e-3)
    with pytest.raises(ParityError, match="differ"):
        export_policy(policy, tmp_path / "bad.onnx", rollout_steps=0)
    assert list(tmp_path.iterdir()) == []  # neither the file nor its hidden temp file


def test_cli_export(tmp_path, export):
    out = tmp_path / "cli.onnx"
    assert main([str(export_run_dir()), "--out", str(out), "--rollout-steps", "0"]) == 0
    assert read_meta(out).config_digest == export.meta.config_digest


def test_missing_source_is_clear(tmp_path, capsys):
    assert main([str(tmp_path / "nope"), "--out", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope does not exist" in err[0]
    assert list(tmp_path.iterdir()) == []


def with_tiny_std(policy, seed: int = 0):
    """``policy`` with a normalizer like a test preset's: a third of the dims never varied (std 1e-6)."""
    mean, std = normalizer_stats(policy)
    rng = np.random.default_rng(seed)
    mean = rng.uniform(-1.0, 1.0, mean.shape)
    std = rng.uniform(0.2, 2.0, std.shape)
    std[::3] = 1e-6  # brax clips std to >= 1e-6: a constant observation in training
    stats = policy.normalizer
    stats = stats.replace(
        mean={**stats.mean, ACTOR_KEY: np.asarray(mean, np.float32)},
        std={**stats.std, ACTOR_KEY: np.asarray(std, np.float32)},
    )
    return dataclasses.replace(policy, normalizer=stats)


def test_parity_observations_stay_within_the_normalizer():
    mean = np.array([0.5, -2.0, 0.0, 10.0])
    std = np.array([1e-6, 0.5, 1.0, 3.0])
    obs = random_observations(mean, std, 400, seed=1)
    assert obs.shape == (400, 4) and obs.dtype == np.float32
    z = (obs.astype(np.float64) - mean) / std  # what the graph's normalizer feeds the network
    assert np.abs(z).max() < 6 * PARITY_FAR  # never the 1e6 of a standard-normal draw at std 1e-6
    assert np.abs(z[100:]).max() > 2.0 and np.abs(z[:100]).max() > 2.0 * PARITY_FAR  # still spread out
    np.testing.assert_allclose(obs.mean(axis=0), mean, atol=1.0 * std.max())


def test_test_preset_like_normalizer_exports(tmp_path):
    """A policy whose normalizer has std 1e-6 dims (a short test-preset training) passes parity."""
    policy = with_tiny_std(small_policy(small_meta().nu))
    result = export_policy(policy, tmp_path / "tiny.onnx", rollout_steps=0)
    assert result.max_abs_diff_random <= PARITY_TOL and result.path.is_file()


@pytest.mark.parametrize("tol", [float("nan"), -1.0, float("inf")])
def test_tolerance_must_be_finite_and_non_negative(tmp_path, tol):
    with pytest.raises(ExportError, match=r"^tol = .* is invalid: expected a finite"):
        export_policy(tmp_path / "nope", tmp_path / "x.onnx", tol=tol)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_temp_file(tmp_path, monkeypatch):
    policy = small_policy(small_meta().nu)
    out = tmp_path / "policy.onnx"

    def disk_full(model: onnx.ModelProto, tmp: Path, out: Path) -> None:
        """The write runs out of space half-way."""
        tmp.write_bytes(b"half")
        raise ExportError(f"out = {str(out)!r} cannot be written: No space left on device")

    monkeypatch.setattr(export_module, "write_output", disk_full)
    with pytest.raises(ExportError, match="No space left"):
        export_policy(policy, out, rollout_steps=0)
    assert list(tmp_path.iterdir()) == []
