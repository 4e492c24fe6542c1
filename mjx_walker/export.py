"""Export a trained policy to a self-describing ONNX file (through jax2onnx), with a parity check.

``python -m mjx_walker.export RUN_DIR_OR_CHECKPOINT [--out policy.onnx] [--opset N]``

The graph maps ``obs`` (batch, obs_dim) float32 to ``action`` (batch, action_dim) float32: the
observation normalizer is folded in and the action is the deterministic mode (tanh of the mean).

Targets (defaults): opset 17 and IR version 9, which load in
* JetPack 6.x (6.0-6.2): TensorRT 10.x ONNX parser and onnxruntime-gpu 1.18-1.20 (Jetson Zoo);
* JetPack 5.1.x: TensorRT 8.5/8.6 and onnxruntime-gpu 1.15-1.17 (IR 9 needs onnxruntime >= 1.15).
The graph uses only Gemm, Sub, Div, Mul, Sigmoid/Relu/Tanh/Elu and Split (all TensorRT-native).

Parity: the ONNX output (onnxruntime CPU) must match the JAX policy within ``PARITY_TOL`` (max
absolute difference of actions in [-1, 1]; float32 level) on random observations and on real
ones from a short WalkEnv rollout, or the export fails and no file is written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import onnx

from mjx_walker.onnx_meta import INPUT_NAME, OUTPUT_NAME, PolicyMeta, build_meta, write_meta
from mjx_walker.policy import POLICY_META, Policy, load_policy

DEFAULT_OPSET = 17
DEFAULT_IR_VERSION = 9
PARITY_TOL = 1e-4  # max |action_onnx - action_jax|, actions in [-1, 1]


class ParityError(RuntimeError):
    """The ONNX graph does not reproduce the JAX policy within tolerance."""


@dataclass(frozen=True)
class ExportResult:
    """What an export produced."""

    path: Path
    meta: PolicyMeta
    max_abs_diff_random: float
    max_abs_diff_real: float
    size_bytes: int


def load_any_policy(source: str | os.PathLike) -> Policy:
    """A Policy from a run dir, a policy dir, or (else) an orbax checkpoint dir."""
    path = Path(source)
    if (path / POLICY_META).is_file() or (path / "policy" / POLICY_META).is_file():
        return load_policy(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist (expected a run dir, policy dir or checkpoint)")
    from mjx_walker.checkpointing import policy_from_checkpoint  # lazy: written alongside training

    return policy_from_checkpoint(path)


def random_observations(meta: PolicyMeta, n: int, seed: int = 0) -> np.ndarray:
    """(n, obs_dim) float32 standard-normal observations, a quarter of them scaled by 5."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(0.0, 1.0, (n, meta.obs_dim)).astype(np.float32)
    obs[: n // 4] *= 5.0  # a few far outside the training distribution
    return obs


def real_observations(policy: Policy, env: Any | None = None, n_envs: int = 4, steps: int = 25) -> np.ndarray:
    """(n_envs * steps, obs_dim) actor observations from a short WalkEnv rollout of the policy."""
    from mjx_walker.env import WalkEnv

    env = env if env is not None else WalkEnv(policy.env_cfg)

    def rollout(key: jax.Array) -> jax.Array:
        """Actor observations (steps, obs_dim) of one env driven by the policy."""
        state, obs = env.reset(key)

        def body(carry: tuple[Any, jax.Array], _: None) -> tuple[tuple[Any, jax.Array], jax.Array]:
            """One control step."""
            state, actor = carry
            action = policy.act(actor[None])[0]
            state, out = env.step(state, action)
            return (state, out.obs.actor), actor

        _, seen = jax.lax.scan(body, (state, obs.actor), None, length=steps)
        return seen

    keys = jax.random.split(jax.random.PRNGKey(1), n_envs)
    seen = jax.jit(jax.vmap(rollout))(keys)
    return np.asarray(seen, np.float32).reshape(n_envs * steps, -1)


def to_onnx_model(policy: Policy, obs_dim: int, opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """Trace ``policy.act`` into an ONNX model with a dynamic batch dimension."""
    from jax2onnx import to_onnx

    def act(obs: jax.Array) -> jax.Array:
        """Deterministic action for a batch of observations."""
        return policy.act(obs).astype(jnp.float32)

    return to_onnx(
        act,
        inputs=[("batch", obs_dim)],
        model_name="mjx_walker_policy",
        opset=opset,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
    )


def onnx_actions(model: onnx.ModelProto, obs: np.ndarray) -> np.ndarray:
    """Actions (n, nu) of the ONNX model on observations (n, obs_dim), onnxruntime CPU."""
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run([OUTPUT_NAME], {INPUT_NAME: obs.astype(np.float32)})[0]


def export_policy(
    source: str | os.PathLike | Policy,
    out: str | os.PathLike = "policy.onnx",
    opset: int = DEFAULT_OPSET,
    ir_version: int = DEFAULT_IR_VERSION,
    tol: float = PARITY_TOL,
    env: Any | None = None,
    rollout_steps: int = 25,
) -> ExportResult:
    """Export a policy (run dir, policy dir, checkpoint or Policy) to ONNX; checked and atomic.

    ``env`` is an optional WalkEnv of the policy's config (reused for the real-observation
    rollout); ``rollout_steps`` = 0 skips the rollout (random observations only).
    """
    from mjx_walker.model import build_robot_model

    policy = source if isinstance(source, Policy) else load_any_policy(source)
    robot = env.robot if env is not None else build_robot_model(policy.env_cfg.robot.name, policy.env_cfg.sim)
    meta = build_meta(policy.env_cfg, policy.ppo_cfg, robot)
    model = to_onnx_model(policy, meta.obs_dim, opset)
    model.ir_version = ir_version
    model.producer_name = "mjx_walker"

    def jax_actions(obs: np.ndarray) -> np.ndarray:
        """Actions of the JAX policy."""
        return np.asarray(jax.jit(policy.act)(jnp.asarray(obs)))

    obs_random = random_observations(meta, 256)
    diff_random = float(np.max(np.abs(onnx_actions(model, obs_random) - jax_actions(obs_random))))
    diff_real = 0.0
    if rollout_steps > 0:
        obs_real = real_observations(policy, env, steps=rollout_steps)
        diff_real = float(np.max(np.abs(onnx_actions(model, obs_real) - jax_actions(obs_real))))
    worst = max(diff_random, diff_real)
    if not np.isfinite(worst) or worst > tol:
        raise ParityError(
            f"ONNX and JAX policies differ by {worst:.3g} (random obs {diff_random:.3g}, rollout obs "
            f"{diff_real:.3g}) > tolerance {tol:g}; not writing {out}"
        )
    meta = replace(meta, opset=opset, ir_version=ir_version, parity_max_abs_diff=worst, parity_tolerance=tol)
    write_meta(model, meta)
    onnx.checker.check_model(model, full_check=True)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(model.SerializeToString())
    os.chmod(tmp, 0o644)  # mkstemp creates 0600
    os.replace(tmp, out)
    return ExportResult(out, meta, diff_random, diff_real, out.stat().st_size)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m mjx_walker.export", description=__doc__.split("\n")[0])
    parser.add_argument("source", help="run dir, policy dir, or orbax checkpoint dir")
    parser.add_argument("--out", default="policy.onnx", help="output ONNX path")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset (default 17)")
    parser.add_argument("--ir-version", type=int, default=DEFAULT_IR_VERSION, help="ONNX IR version (default 9)")
    parser.add_argument("--tol", type=float, default=PARITY_TOL, help="max |ONNX - JAX| action difference")
    parser.add_argument("--rollout-steps", type=int, default=25, help="control steps of real observations")
    args = parser.parse_args(argv)
    try:
        res = export_policy(
            args.source, args.out, args.opset, args.ir_version, args.tol, rollout_steps=args.rollout_steps
        )
    except (ParityError, FileNotFoundError) as err:
        print(f"export failed: {err}", file=sys.stderr)
        return 1
    print(
        f"wrote {res.path} ({res.size_bytes} bytes, opset {res.meta.opset}, IR {res.meta.ir_version}); "
        f"robot {res.meta.robot}, obs {res.meta.obs_dim}, actions {res.meta.action_dim}; parity max |diff| "
        f"random {res.max_abs_diff_random:.2e}, rollout {res.max_abs_diff_real:.2e} (tol {args.tol:g})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
