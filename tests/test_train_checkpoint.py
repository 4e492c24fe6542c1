"""Checkpoint round trip, completeness rule, and policy_from_checkpoint (no MJX compile)."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from mjx_walker import checkpointing as ck
from mjx_walker.presets import get_preset


def _perturbed(tree, scale):
    return jax.tree.map(lambda x: np.asarray(x) + scale if np.issubdtype(np.asarray(x).dtype, np.floating) else x, tree)


def test_checkpoint_round_trip_and_policy(tmp_path):
    env, ppo = get_preset("berkeley_humanoid", "test")
    _, normalizer, policy, value = ck.param_templates(env, ppo)
    params = (normalizer, _perturbed(policy, 0.5), _perturbed(value, -0.25))
    root = tmp_path / "checkpoints"
    path = ck.save_checkpoint(root, 20480, 1, params, env, ppo)
    assert path.name == "000000020480"
    meta, restored, _ = ck.load_checkpoint(path)
    assert meta["step"] == 20480 and meta["epoch"] == 1
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(restored), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    pol = ck.policy_from_checkpoint(path)
    assert pol.env_cfg == env and pol.ppo_cfg == ppo
    obs = np.zeros((3, normalizer.mean["state"].shape[0]), np.float32)
    action = np.asarray(pol.act(obs))
    assert action.shape[0] == 3 and np.all(np.abs(action) <= 1.0)
    # a run dir (or its checkpoints/ dir) resolves to the latest complete checkpoint
    assert ck.policy_from_checkpoint(tmp_path).ppo_cfg == ppo


def test_relative_checkpoint_root_is_accepted(tmp_path, monkeypatch):
    """The CLI's default run dir is relative (runs/...); orbax itself wants absolute paths."""
    env, ppo = get_preset("berkeley_humanoid", "test")
    _, normalizer, policy, value = ck.param_templates(env, ppo)
    monkeypatch.chdir(tmp_path)
    path = ck.save_checkpoint("runs/x/checkpoints", 100, 1, (normalizer, policy, value), env, ppo)
    assert path.is_absolute() and path == tmp_path / "runs/x/checkpoints/000000000100"
    assert ck.complete_steps("runs/x/checkpoints") == [100]


def test_incomplete_checkpoints_are_ignored(tmp_path):
    env, ppo = get_preset("berkeley_humanoid", "test")
    _, normalizer, policy, value = ck.param_templates(env, ppo)
    root = tmp_path / "checkpoints"
    ck.save_checkpoint(root, 100, 1, (normalizer, policy, value), env, ppo)
    # what a kill mid-write leaves behind: orbax's temp dir, never renamed
    (root / "000000000200.orbax-checkpoint-tmp-123" / "state").mkdir(parents=True)
    # a step-named dir without orbax's finalization metadata
    (root / "000000000300" / "state").mkdir(parents=True)
    assert ck.complete_steps(root) == [100]
    ck.save_checkpoint(root, 400, 2, (normalizer, policy, value), env, ppo)
    assert not list(root.glob("*orbax-checkpoint-tmp*"))  # leftovers cleaned on the next save
    assert ck.complete_steps(root) == [100, 400]


def test_policy_files_record_their_sizes_and_load_without_the_scene(tmp_path, monkeypatch):
    """Checkpoints and policy dirs carry {actor, critic, action} sizes; loading them builds no MuJoCo model."""
    import mjx_walker.model
    from mjx_walker.observation import actor_layout, critic_layout
    from mjx_walker.policy import load_policy, save_policy

    env, ppo = get_preset("berkeley_humanoid", "test")
    _, normalizer, policy, value = ck.param_templates(env, ppo)  # old-style meta: counts joints in the scene
    expected = {"actor": actor_layout(12).size, "critic": critic_layout(12).size, "action": 12}
    path = ck.save_checkpoint(tmp_path / "checkpoints", 100, 1, (normalizer, policy, value), env, ppo)
    pol_dir = save_policy(tmp_path / "policy", env, ppo, normalizer, policy)

    def no_scene(*args, **kwargs):
        raise AssertionError("the MuJoCo scene was built just to count joints")

    monkeypatch.setattr(mjx_walker.model, "build_robot_model", no_scene)
    meta, restored, _ = ck.load_checkpoint(path)
    assert meta["sizes"] == expected
    assert json.loads((pol_dir / "policy.json").read_text())["sizes"] == expected
    assert load_policy(pol_dir).act(np.zeros((1, expected["actor"]), np.float32)).shape == (1, 12)


def test_warm_start_refuses_a_checkpoint_of_other_networks_before_training(tmp_path):
    """init_from a checkpoint whose hidden layers differ names the shapes and trains nothing."""
    from dataclasses import replace

    from mjx_walker.configs import ConfigError
    from mjx_walker.training import warm_start

    env, ppo = get_preset("berkeley_humanoid", "test")
    _, *params = ck.param_templates(env, ppo)
    ck.save_checkpoint(tmp_path / "checkpoints", 20480, 1, tuple(params), env, ppo)
    start, restored = warm_start(tmp_path, env, ppo)  # a run directory: its latest checkpoint
    assert start == {"checkpoint": str(ck.step_dir(tmp_path / "checkpoints", 20480).resolve()), "env_steps": 20480}
    for a, b in zip(jax.tree.leaves(tuple(params)), jax.tree.leaves(restored), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    wider = replace(ppo, policy_hidden_layer_sizes=(64, 32))
    with pytest.raises(
        ConfigError, match=r"(?s)init_from = .* does not fit this config.*\(32, 32\) \(checkpoint\) vs \(64, 32\)"
    ):
        warm_start(tmp_path, env, wider)
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        warm_start(tmp_path / "nothing", env, ppo)
