"""The trained policy as a file: save, load, and the deterministic actor as a pure function.

A policy directory holds ``policy.msgpack`` (observation normalizer of the actor input and the
actor network's parameters) and ``policy.json`` (the env and PPO configs that built it). This is
what training writes at the end and what export and evaluation read.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from brax.training.acme import running_statistics
from brax.training.agents.ppo import networks as ppo_networks
from flax import serialization

from mjx_walker.brax_env import ACTOR_KEY, CRITIC_KEY
from mjx_walker.configs import EnvConfig, from_dict, to_dict
from mjx_walker.mirror import Mirror, joint_mirror, obs_mirror
from mjx_walker.obs_terms import ACTOR_TERMS
from mjx_walker.ppo_config import PPOConfig

POLICY_PARAMS = "policy.msgpack"
POLICY_META = "policy.json"


def make_networks(
    actor_size: int,
    critic_size: int,
    action_size: int,
    ppo: PPOConfig,
    mirrors: tuple[Mirror, Mirror] | None = None,
) -> Any:  # noqa: ANN401
    """Brax PPO networks: the actor reads ACTOR_KEY, the critic reads CRITIC_KEY.

    With ``ppo.symmetric_policy`` the actor is mirror-symmetric (:func:`symmetric_actor`) under
    ``mirrors`` (observation, action), required then (:func:`policy_mirrors`).
    """
    preprocess = running_statistics.normalize if ppo.normalize_observations else (lambda x, _: x)
    networks = ppo_networks.make_ppo_networks(
        observation_size={ACTOR_KEY: (actor_size,), CRITIC_KEY: (critic_size,)},
        action_size=action_size,
        preprocess_observations_fn=preprocess,
        policy_hidden_layer_sizes=ppo.policy_hidden_layer_sizes,
        value_hidden_layer_sizes=ppo.value_hidden_layer_sizes,
        activation=getattr(nn, ppo.activation),
        policy_obs_key=ACTOR_KEY,
        value_obs_key=CRITIC_KEY,
    )
    if not ppo.symmetric_policy:
        return networks
    if mirrors is None:
        raise ValueError("a symmetric policy needs its robot's mirrors (mjx_walker.policy.policy_mirrors)")
    return networks.replace(policy_network=symmetric_actor(networks.policy_network, *mirrors))


def robot_mirrors(env_cfg: EnvConfig) -> tuple[Mirror, Mirror]:
    """(actor observation mirror, action mirror) of the env's robot (:mod:`mjx_walker.mirror`)."""
    joints = _joint_mirror(env_cfg.robot.name)
    return obs_mirror(ACTOR_TERMS, joints), joints


@functools.lru_cache(maxsize=8)
def _joint_mirror(robot: str) -> Mirror:
    """A robot's joint mirror (from its scene: names and axes), built once per process."""
    from mjx_walker.model import build_robot_model

    return joint_mirror(build_robot_model(robot))


def mirror_record(env_cfg: EnvConfig, ppo: PPOConfig) -> dict[str, list[float]] | None:
    """What a symmetric policy's files record of its mirrors (None for a plain policy)."""
    if not ppo.symmetric_policy:
        return None
    obs_m, act_m = robot_mirrors(env_cfg)
    return {
        "obs_perm": obs_m.perm.tolist(),
        "obs_sign": obs_m.sign.tolist(),
        "act_perm": act_m.perm.tolist(),
        "act_sign": act_m.sign.tolist(),
    }


def policy_mirrors(meta: dict[str, Any], env_cfg: EnvConfig, ppo: PPOConfig) -> tuple[Mirror, Mirror] | None:
    """The mirrors a policy or checkpoint was trained with: recorded in ``meta``, else from the robot's scene."""
    if not ppo.symmetric_policy:
        return None
    rec = meta.get("mirror")
    if rec is None:
        return robot_mirrors(env_cfg)
    obs_m = Mirror(np.asarray(rec["obs_perm"], int), np.asarray(rec["obs_sign"], np.float32))
    return obs_m, Mirror(np.asarray(rec["act_perm"], int), np.asarray(rec["act_sign"], np.float32))


def symmetric_actor(network: Any, obs_m: Mirror, act_m: Mirror) -> Any:  # noqa: ANN401
    """Brax's actor ``f`` as ``(f(s) + M_a f(M_o s)) / 2``: mirror-equivariant for any parameters.

    The actor's output is (mean, scale) per action; the mean mirrors with signs, the scale is
    only permuted. Mirrors are signed permutation matrices (matmuls trace into ONNX as MatMul).
    """
    m_obs = jnp.asarray(obs_m.matrix())
    mean, zero = act_m.matrix(), np.zeros_like(act_m.matrix())
    m_act = jnp.asarray(np.block([[mean, zero], [zero, np.abs(mean)]]))  # (mean, scale) -> mirrored (mean, scale)

    def apply(processor_params: Any, params: Any, obs: Any) -> jax.Array:  # noqa: ANN401
        """The mirrored average of the actor's outputs (..., 2 nu) for ``obs`` and its mirror."""
        mirrored = {**obs, ACTOR_KEY: obs[ACTOR_KEY] @ m_obs} if isinstance(obs, Mapping) else obs @ m_obs
        out = network.apply(processor_params, params, obs)
        return 0.5 * (out + network.apply(processor_params, params, mirrored) @ m_act)

    return dataclasses.replace(network, apply=apply)


@dataclass(frozen=True)
class Policy:
    """A loaded policy: configs, parameters, and the deterministic actor."""

    env_cfg: EnvConfig
    ppo_cfg: PPOConfig
    normalizer: Any  # brax RunningStatisticsState (all obs keys)
    params: Any  # actor network parameters
    networks: Any  # brax PPONetworks

    def act(self, actor_obs: jax.Array) -> jax.Array:
        """Deterministic action (batch, nu) in [-1, 1] for actor observations (batch, actor_dim)."""
        logits = self.networks.policy_network.apply(self.normalizer, self.params, {ACTOR_KEY: actor_obs})
        return self.networks.parametric_action_distribution.mode(logits)


def save_policy(path: str | os.PathLike, env_cfg: EnvConfig, ppo_cfg: PPOConfig, normalizer: Any, params: Any) -> Path:
    """Write a policy directory atomically (temp dir, then rename) and return its path.

    The directory's mode follows the umask like every other file of a run (``tempfile.mkdtemp``
    would make it 0700); a failed write leaves no hidden temp directory behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()  # 0o777 & ~umask
    try:
        blob = serialization.to_bytes({"normalizer": normalizer, "params": params})
        (tmp / POLICY_PARAMS).write_bytes(blob)
        meta = {"env": to_dict(env_cfg), "ppo": to_dict(ppo_cfg), "sizes": recorded_sizes(normalizer)}
        mirror = mirror_record(env_cfg, ppo_cfg)
        if mirror is not None:
            meta["mirror"] = mirror
        (tmp / POLICY_META).write_text(json.dumps(meta, indent=2))
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)  # left by an earlier interrupted save
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already when renamed
    return path


def load_policy(path: str | os.PathLike) -> Policy:
    """Read a policy directory (or a run directory containing ``policy/``)."""
    path = Path(path)
    if (path / "policy" / POLICY_META).is_file():
        path = path / "policy"
    meta_file = path / POLICY_META
    if not meta_file.is_file():
        raise FileNotFoundError(f"no policy at {path}: expected {POLICY_META} and {POLICY_PARAMS} there")
    meta = json.loads(meta_file.read_text())
    env_cfg = from_dict(EnvConfig, meta["env"])
    ppo_cfg = from_dict(PPOConfig, meta["ppo"])
    actor, critic, nu = network_sizes(meta, env_cfg)
    networks = make_networks(actor, critic, nu, ppo_cfg, policy_mirrors(meta, env_cfg, ppo_cfg))
    template = init_policy_params(networks, actor, critic, jax.random.PRNGKey(0))
    restored = serialization.from_bytes(template, (path / POLICY_PARAMS).read_bytes())
    return Policy(env_cfg, ppo_cfg, restored["normalizer"], restored["params"], networks)


def init_policy_params(networks: Any, actor_size: int, critic_size: int, key: jax.Array) -> dict[str, Any]:
    """Fresh {normalizer, params} with the right structure (untrained policy)."""
    normalizer = running_statistics.init_state(
        {
            ACTOR_KEY: jax.ShapeDtypeStruct((actor_size,), jnp.float32),
            CRITIC_KEY: jax.ShapeDtypeStruct((critic_size,), jnp.float32),
        }
    )
    return {"normalizer": normalizer, "params": networks.policy_network.init(key)}


def recorded_sizes(normalizer: Any) -> dict[str, int]:
    """{actor, critic, action} sizes of a policy, from its observation normalizer, as policy files record them."""
    from mjx_walker.obs_terms import ACTOR_TERMS, joints_for_size

    actor = int(normalizer.mean[ACTOR_KEY].shape[-1])
    return {
        "actor": actor,
        "critic": int(normalizer.mean[CRITIC_KEY].shape[-1]),
        "action": joints_for_size(ACTOR_TERMS, actor),
    }


def network_sizes(meta: dict[str, Any], env_cfg: EnvConfig) -> tuple[int, int, int]:
    """(actor obs, critic obs, action) sizes recorded in a policy's or checkpoint's ``meta``.

    Files written before the sizes were recorded (the first shipped policies) lack them: then the
    robot's MuJoCo model is built to count its joints.
    """
    if "sizes" in meta:
        sizes = meta["sizes"]
        return int(sizes["actor"]), int(sizes["critic"]), int(sizes["action"])
    from mjx_walker.model import build_robot_model
    from mjx_walker.observation import actor_layout, critic_layout

    nu = build_robot_model(env_cfg.robot.name, env_cfg.sim).nu
    return actor_layout(nu).size, critic_layout(nu).size, nu
