"""Orbax checkpoints of a training run: one directory per eval, ``checkpoints/<step:012d>/``.

Each checkpoint holds ``state`` (observation normalizer, policy and value parameters) and
``meta`` (JSON: env step, epoch, env and PPO configs), so a single checkpoint directory is
enough to rebuild the policy (:func:`policy_from_checkpoint`).

Atomicity: orbax writes every checkpoint into ``<step>.orbax-checkpoint-tmp-*`` and renames it
to ``<step>`` only after all files are written; a kill mid-write leaves only the temp directory.
:func:`complete_steps` lists only directories whose name is a bare step number and that orbax
reports finalized, and :func:`save_checkpoint` removes leftover temp directories.

Brax's PPO trainer exposes only ``(normalizer, policy, value)`` parameters, not its optimizer
state, so that is what is stored; a resumed run starts Adam's moments afresh.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from flax import serialization

from mjx_walker.configs import EnvConfig, from_dict, to_dict
from mjx_walker.ppo_config import PPOConfig

_STEP_DIR = re.compile(r"^\d{12}$")


def _checkpointer() -> ocp.Checkpointer:
    """An orbax checkpointer for this process alone.

    With several processes (jax.distributed) only process 0 saves, while the others train on;
    orbax's default would have it wait at a barrier for all of them, and training would deadlock.
    """
    me = jax.process_index()
    mp = ocp.options.MultiprocessingOptions(primary_host=me, active_processes={me})
    handler = ocp.CompositeCheckpointHandler(
        composite_options=ocp.CompositeOptions(multiprocessing_options=mp),
        state=ocp.StandardCheckpointHandler(multiprocessing_options=mp),
        meta=ocp.JsonCheckpointHandler(multiprocessing_options=mp),
    )
    return ocp.Checkpointer(handler, multiprocessing_options=mp)


def step_dir(ckpt_root: str | os.PathLike, step: int) -> Path:
    """The directory of the checkpoint at env step ``step``."""
    return Path(ckpt_root) / f"{step:012d}"


def _to_numpy(tree: Any) -> Any:
    """A plain nested dict of numpy arrays (flax state dict) of a params pytree."""
    return jax.tree.map(np.asarray, serialization.to_state_dict(jax.device_get(tree)))


def save_checkpoint(
    ckpt_root: str | os.PathLike,
    step: int,
    epoch: int,
    params: tuple[Any, Any, Any],
    env_cfg: EnvConfig,
    ppo_cfg: PPOConfig,
) -> Path:
    """Write ``(normalizer, policy, value)`` params at ``step`` atomically; return the directory."""
    root = Path(ckpt_root).resolve()  # orbax refuses relative paths
    root.mkdir(parents=True, exist_ok=True)
    for leftover in root.glob("*.orbax-checkpoint-tmp*"):
        shutil.rmtree(leftover, ignore_errors=True)
    path = step_dir(root, step)
    if path.exists():  # a checkpoint of the same step from an earlier attempt: replace it
        shutil.rmtree(path)
    normalizer, policy, value = params
    state = {
        "normalizer": _to_numpy(normalizer),
        "policy": _to_numpy(policy),
        "value": _to_numpy(value),
    }
    from mjx_walker.policy import mirror_record, recorded_sizes

    sizes = recorded_sizes(normalizer)
    meta = {"step": step, "epoch": epoch, "env": to_dict(env_cfg), "ppo": to_dict(ppo_cfg), "sizes": sizes}
    mirror = mirror_record(env_cfg, ppo_cfg)
    if mirror is not None:
        meta["mirror"] = mirror
    ckptr = _checkpointer()
    ckptr.save(
        path,
        args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
    )
    return path


def complete_steps(ckpt_root: str | os.PathLike) -> list[int]:
    """Env steps of the complete (finalized) checkpoints under ``ckpt_root``, ascending."""
    root = Path(ckpt_root)
    if not root.is_dir():
        return []
    steps = []
    for child in root.iterdir():
        if child.is_dir() and _STEP_DIR.match(child.name) and ocp.utils.is_checkpoint_finalized(child):
            if (child / "state").is_dir() and (child / "meta").is_dir():
                steps.append(int(child.name))
    return sorted(steps)


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON metadata (step, epoch, configs) of one checkpoint directory."""
    ckptr = _checkpointer()
    return ckptr.restore(Path(path), args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]


def param_templates(
    env_cfg: EnvConfig, ppo_cfg: PPOConfig, meta: dict[str, Any] | None = None
) -> tuple[Any, Any, Any, Any]:
    """(networks, normalizer, policy, value) with the right structure for these configs.

    The sizes come from a checkpoint's ``meta`` when it records them, else from the robot model.
    """
    from mjx_walker.policy import init_policy_params, make_networks, network_sizes, policy_mirrors

    actor, critic, nu = network_sizes(meta or {}, env_cfg)
    networks = make_networks(actor, critic, nu, ppo_cfg, policy_mirrors(meta or {}, env_cfg, ppo_cfg))
    fresh = init_policy_params(networks, actor, critic, jax.random.PRNGKey(0))
    value = networks.value_network.init(jax.random.PRNGKey(1))
    return networks, fresh["normalizer"], fresh["params"], value


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], tuple[Any, Any, Any], Any]:
    """Read one checkpoint directory: (meta, (normalizer, policy, value), networks)."""
    path = Path(path).resolve()  # orbax refuses relative paths
    if not (path / "state").is_dir() or not ocp.utils.is_checkpoint_finalized(path):
        raise FileNotFoundError(f"no complete checkpoint at {path}")
    ckptr = _checkpointer()
    raw = ckptr.restore(path, args=ocp.args.Composite(state=ocp.args.StandardRestore(), meta=ocp.args.JsonRestore()))
    meta = raw["meta"]
    env_cfg = from_dict(EnvConfig, meta["env"])
    ppo_cfg = from_dict(PPOConfig, meta["ppo"])
    networks, normalizer, policy, value = param_templates(env_cfg, ppo_cfg, meta)
    state = raw["state"]
    params = (
        serialization.from_state_dict(normalizer, state["normalizer"]),
        serialization.from_state_dict(policy, state["policy"]),
        serialization.from_state_dict(value, state["value"]),
    )
    params = jax.tree.map(lambda x, t: np.asarray(x, dtype=np.asarray(t).dtype), params, (normalizer, policy, value))
    return meta, params, networks


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """One checkpoint directory: ``path`` itself, or the latest complete one of a run or its ``checkpoints/``."""
    from mjx_walker.run_dir import read_stages

    path = Path(path)
    for stage in reversed(read_stages(path) or []):  # a staged run: its latest stage with a checkpoint
        if complete_steps(path / stage["name"] / "checkpoints"):
            path = path / stage["name"]
            break
    if (path / "checkpoints").is_dir():
        path = path / "checkpoints"
    if not (path / "state").is_dir():
        steps = complete_steps(path)
        if not steps:
            raise FileNotFoundError(f"no complete checkpoint at or under {path}")
        path = step_dir(path, steps[-1])
    return path.resolve()


def policy_from_checkpoint(path: str | os.PathLike) -> Any:
    """A :class:`mjx_walker.policy.Policy` from one checkpoint directory of a run.

    ``path`` may also be a run's ``checkpoints/`` directory or a run directory: then the latest
    complete checkpoint is used.
    """
    from mjx_walker.policy import Policy

    meta, (normalizer, policy, _), networks = load_checkpoint(resolve_checkpoint(path))
    env_cfg = from_dict(EnvConfig, meta["env"])
    ppo_cfg = from_dict(PPOConfig, meta["ppo"])
    return Policy(env_cfg, ppo_cfg, normalizer, policy, networks)
