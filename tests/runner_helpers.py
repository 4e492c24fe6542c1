"""Helpers shared by the export/runner/evaluate tests: a small untrained policy on disk."""

from __future__ import annotations

from pathlib import Path

import jax

from mjx_walker.configs import EnvConfig
from mjx_walker.observation import actor_layout, critic_layout
from mjx_walker.policy import Policy, init_policy_params, make_networks, save_policy
from mjx_walker.ppo_config import PPOConfig

SMALL_PPO = PPOConfig(policy_hidden_layer_sizes=(32, 32), value_hidden_layer_sizes=(32, 32))


def small_policy(nu: int, env_cfg: EnvConfig | None = None, seed: int = 0) -> Policy:
    """An untrained (32, 32) policy for the default env config."""
    env_cfg = env_cfg or EnvConfig()
    a, c = actor_layout(nu).size, critic_layout(nu).size
    networks = make_networks(a, c, nu, SMALL_PPO)
    p = init_policy_params(networks, a, c, jax.random.PRNGKey(seed))
    return Policy(env_cfg, SMALL_PPO, p["normalizer"], p["params"], networks)


def save_small_policy(path: Path, nu: int, env_cfg: EnvConfig | None = None) -> Path:
    """Write a small untrained policy directory and return its path."""
    pol = small_policy(nu, env_cfg)
    return save_policy(path, pol.env_cfg, pol.ppo_cfg, pol.normalizer, pol.params)


_EXPORTS: dict[str, object] = {}


def exported_policy(env: object) -> object:
    """ExportResult of a small untrained policy for ``env`` (exported once per session)."""
    if "result" not in _EXPORTS:
        import tempfile

        from mjx_walker.export import export_policy

        root = Path(tempfile.mkdtemp(prefix="mjx_walker_export_"))
        run_dir = root / "run"
        save_small_policy(run_dir / "policy", env.robot.nu, env.cfg)
        _EXPORTS["result"] = export_policy(run_dir, root / "policy.onnx", env=env, rollout_steps=20)
        _EXPORTS["run_dir"] = run_dir
    return _EXPORTS["result"]


def export_run_dir() -> Path:
    """Run dir of the session's exported small policy (call exported_policy first)."""
    return _EXPORTS["run_dir"]  # type: ignore[return-value]
