"""Export a trained policy to a self-describing ONNX file (through jax2onnx), with a parity check.

``python -m mjx_walker.export RUN_DIR_OR_CHECKPOINT [--out PATH] [--opset N]``

Without ``--out`` the file goes where ``run``, ``evaluate`` and ``play`` look for it: ``RUN/policy.onnx``
for a run directory (a staged run's top directory included) or the policy directory of a run;
``RUN/policy_<step>.onnx`` for one checkpoint of a run (named by its env step, so it never
replaces the run's final policy); ``DIR/policy.onnx`` for a policy directory outside a run.

The graph maps ``obs`` (batch, obs_dim) float32 to ``action`` (batch, action_dim) float32: the
observation normalizer is folded in and the action is the deterministic mode (tanh of the mean).

Targets (defaults): opset 17 and IR version 9, which load in
* JetPack 6.x (6.0-6.2): TensorRT 10.x ONNX parser and onnxruntime-gpu 1.18-1.20 (Jetson Zoo);
* JetPack 5.1.x: TensorRT 8.5/8.6 and onnxruntime-gpu 1.15-1.17 (IR 9 needs onnxruntime >= 1.15).
The graph uses only Gemm, Sub, Div, Mul, Sigmoid/Relu/Tanh/Elu and Split (all TensorRT-native).

Parity: the ONNX output (onnxruntime CPU) must match the JAX policy within ``PARITY_TOL`` (max
absolute difference of actions in [-1, 1]; float32 level) on random observations drawn from the
policy's observation normalizer (see :func:`random_observations`) and on real ones from a short
WalkEnv rollout, or the export fails and no file is written.

The CLI exits 2 with one line naming the argument, file or path for a bad request (a tolerance
that is not a finite number >= 0, an opset or IR version out of range, a missing or corrupt
source, an output path that cannot be written) and 1 with one line when parity fails. No temp
file is left behind either way.
"""

from __future__ import annotations

import math
import os
import secrets
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import onnx

from mjx_walker.brax_env import ACTOR_KEY
from mjx_walker.cli import ArgumentParser, user_error
from mjx_walker.onnx_meta import INPUT_NAME, OUTPUT_NAME, PolicyMeta, build_meta, write_meta
from mjx_walker.policy import POLICY_META, Policy, load_policy
from mjx_walker.policy_paths import POLICY_DIR, POLICY_ONNX, is_run_dir

DEFAULT_OPSET = 17
DEFAULT_IR_VERSION = 9
PARITY_TOL = 1e-4  # max |action_onnx - action_jax|, actions in [-1, 1]
PARITY_FAR = 5.0  # a quarter of the random parity observations lie this many normalizer stds out
MIN_OPSET = 13  # jax2onnx's graphs (Unsqueeze/Split axes as inputs) need opset 13 or later
MIN_IR_VERSION = 7


class ParityError(RuntimeError):
    """The ONNX graph does not reproduce the JAX policy within tolerance."""


class ExportError(ValueError):
    """A bad export request: an argument, a missing or unreadable source, an unwritable output."""


def check_request(tol: float, opset: int, ir_version: int, rollout_steps: int) -> None:
    """ExportError naming the argument, its value and what is allowed, unless every one is usable.

    A NaN tolerance would pass every comparison silently (``diff > nan`` is False): parity off.
    """
    max_opset, max_ir = onnx.defs.onnx_opset_version(), onnx.IR_VERSION
    for name, value, ok, allowed in (
        ("tol", tol, math.isfinite(tol) and tol >= 0, "a finite max |ONNX - JAX| action difference >= 0"),
        ("opset", opset, MIN_OPSET <= opset <= max_opset, f"an ONNX opset in [{MIN_OPSET}, {max_opset}]"),
        ("ir_version", ir_version, MIN_IR_VERSION <= ir_version <= max_ir, f"in [{MIN_IR_VERSION}, {max_ir}]"),
        ("rollout_steps", rollout_steps, rollout_steps >= 0, "control steps >= 0 (0: random observations only)"),
    ):
        if not ok:
            raise ExportError(f"{name} = {value!r} is invalid: expected {allowed}")


@dataclass(frozen=True)
class ExportResult:
    """What an export produced."""

    path: Path
    meta: PolicyMeta
    max_abs_diff_random: float
    max_abs_diff_real: float
    size_bytes: int


def load_any_policy(source: str | os.PathLike) -> Policy:
    """A Policy from a run dir, a policy dir, or (else) an orbax checkpoint dir; ExportError if unreadable."""
    path = Path(source)
    if not path.exists():
        raise ExportError(f"{path} does not exist (expected a run dir, policy dir or checkpoint)")
    try:
        if (path / POLICY_META).is_file() or (path / "policy" / POLICY_META).is_file():
            return load_policy(path)
        from mjx_walker.checkpointing import policy_from_checkpoint  # lazy: written alongside training

        return policy_from_checkpoint(path)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:  # corrupt or foreign files
        first = (str(err).strip().splitlines() or [""])[0]
        raise ExportError(f"{path}: cannot read a policy there ({type(err).__name__}: {first})") from err


def checkpoint_output(source: Path) -> Path:
    """``RUN/policy_<step>.onnx`` for a checkpoint (or a run's ``checkpoints/``): in the run it belongs to."""
    from mjx_walker.checkpointing import resolve_checkpoint  # lazy: orbax

    try:
        step = resolve_checkpoint(source)
    except (OSError, ValueError) as err:
        first = (str(err).strip().splitlines() or [""])[0]
        raise ExportError(f"{source}: cannot read a policy there ({type(err).__name__}: {first})") from err
    run = step.parent.parent if step.parent.name == "checkpoints" else step.parent
    return run / (f"policy_{int(step.name)}.onnx" if step.name.isdigit() else POLICY_ONNX)


def default_output(source: str | os.PathLike) -> Path:
    """Where ``export SOURCE`` writes without ``--out`` (see the module docstring); ExportError if no source."""
    path = Path(source)
    if not path.exists():
        raise ExportError(f"{path} does not exist (expected a run dir, policy dir or checkpoint)")
    if is_run_dir(path):
        return path / POLICY_ONNX
    if (path / POLICY_META).is_file():  # a policy directory: its run's file, or its own
        return path.parent / POLICY_ONNX if path.name == POLICY_DIR and is_run_dir(path.parent) else path / POLICY_ONNX
    return checkpoint_output(path)


def normalizer_stats(policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """Mean (obs_dim,) and std (obs_dim,) of the policy's actor-observation normalizer, observation units."""
    stats = policy.normalizer
    return np.asarray(stats.mean[ACTOR_KEY], np.float64), np.asarray(stats.std[ACTOR_KEY], np.float64)


def random_observations(mean: np.ndarray, std: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """(n, obs_dim) float32 observations ``mean + std * z``, z standard normal, a quarter of z x PARITY_FAR.

    ``mean`` and ``std`` (obs_dim,) are the policy's observation normalizer (:func:`normalizer_stats`).
    Drawn in the normalizer's units because the graph starts with ``(obs - mean) / std`` and brax
    clips std to at least 1e-6: a dimension that never varied in training (a test preset's zero
    command, ...) has std 1e-6, so a standard-normal observation there is ~1e6 after
    normalization. At that scale the float32 rounding differences between XLA's and onnxruntime's
    kernels are amplified a millionfold and parity fails on a correct graph. ``mean + std * z``
    puts every dimension z standard deviations out instead: the whole network is exercised, a
    quarter of the draws PARITY_FAR deviations out (beyond what training saw), but never in a
    regime the policy cannot meet.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.0, (n, np.shape(mean)[0]))
    z[: n // 4] *= PARITY_FAR
    return (np.asarray(mean, np.float64) + np.asarray(std, np.float64) * z).astype(np.float32)


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

    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's own types: e.g. an opset newer than it supports
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ExportError(f"onnxruntime cannot load the exported graph (opset {_opset(model)}): {first}") from err
    return session.run([OUTPUT_NAME], {INPUT_NAME: obs.astype(np.float32)})[0]


def _opset(model: onnx.ModelProto) -> int:
    """The model's default-domain opset."""
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), -1)


def reserve_output(out: Path) -> Path:
    """An empty hidden temp file beside ``out`` (mode from the umask); ExportError if ``out`` cannot be written."""
    if out.is_dir():
        raise ExportError(f"out = {str(out)!r} is a directory: expected the path of the .onnx file to write")
    tmp = out.parent / f".{out.name}.{secrets.token_hex(4)}.tmp"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # 0o666 & ~umask, like open()
    except OSError as err:
        raise ExportError(f"out = {str(out)!r} cannot be written: {err.strerror or err}") from err
    return tmp


def write_output(model: onnx.ModelProto, tmp: Path, out: Path) -> None:
    """Serialize ``model`` into ``tmp``, then rename it to ``out`` (atomic); ExportError if that fails."""
    try:
        tmp.write_bytes(model.SerializeToString())
        os.replace(tmp, out)
    except OSError as err:
        raise ExportError(f"out = {str(out)!r} cannot be written: {err.strerror or err}") from err


def export_policy(
    source: str | os.PathLike | Policy,
    out: str | os.PathLike | None = None,
    opset: int = DEFAULT_OPSET,
    ir_version: int = DEFAULT_IR_VERSION,
    tol: float = PARITY_TOL,
    env: Any | None = None,
    rollout_steps: int = 25,
) -> ExportResult:
    """Export a policy (run dir, policy dir, checkpoint or Policy) to ONNX; checked and atomic.

    ``out`` None: :func:`default_output` of the source (``policy.onnx`` here for a Policy object).
    ``env`` is an optional WalkEnv of the policy's config (reused for the real-observation
    rollout); ``rollout_steps`` = 0 skips the rollout (random observations only). ExportError for
    a bad request, ParityError when the graph does not match; either way nothing is left at or
    beside ``out``.
    """
    check_request(tol, opset, ir_version, rollout_steps)
    if out is None:
        out = Path(POLICY_ONNX) if isinstance(source, Policy) else default_output(source)
    out = Path(out)
    tmp = reserve_output(out)
    try:
        policy = source if isinstance(source, Policy) else load_any_policy(source)
        model, meta, diff_random, diff_real = _checked_model(policy, opset, ir_version, tol, env, rollout_steps, out)
        write_output(model, tmp, out)
    finally:
        tmp.unlink(missing_ok=True)  # already renamed on success
    return ExportResult(out, meta, diff_random, diff_real, out.stat().st_size)


def _checked_model(
    policy: Policy, opset: int, ir_version: int, tol: float, env: Any | None, rollout_steps: int, out: Path
) -> tuple[onnx.ModelProto, PolicyMeta, float, float]:
    """The policy's ONNX model with metadata, after the parity checks; also both max |diff|."""
    from mjx_walker.model import build_robot_model

    robot = env.robot if env is not None else build_robot_model(policy.env_cfg.robot.name, policy.env_cfg.sim)
    meta = build_meta(policy.env_cfg, policy.ppo_cfg, robot)
    model = to_onnx_model(policy, meta.obs_dim, opset)
    model.ir_version = ir_version
    model.producer_name = "mjx_walker"

    def jax_actions(obs: np.ndarray) -> np.ndarray:
        """Actions of the JAX policy."""
        return np.asarray(jax.jit(policy.act)(jnp.asarray(obs)))

    obs_random = random_observations(*normalizer_stats(policy), 256)
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
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as err:  # e.g. an IR version too old for the opset
        first = (str(err).strip().splitlines() or [""])[0]
        raise ExportError(f"opset {opset} with IR version {ir_version} does not make a valid model: {first}") from err
    return model, meta, diff_random, diff_real


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: 0 written, 2 a bad request (one line), 1 parity failed (one line)."""
    parser = ArgumentParser(prog="python -m mjx_walker.export", description=__doc__.split("\n")[0])
    parser.add_argument("source", help="run dir, policy dir, or orbax checkpoint dir")
    parser.add_argument(
        "--out",
        default=None,
        help="output ONNX path (default: RUN/policy.onnx, or RUN/policy_<step>.onnx for a checkpoint)",
    )
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset (default 17)")
    parser.add_argument("--ir-version", type=int, default=DEFAULT_IR_VERSION, help="ONNX IR version (default 9)")
    parser.add_argument("--tol", type=float, default=PARITY_TOL, help="max |ONNX - JAX| action difference")
    parser.add_argument("--rollout-steps", type=int, default=25, help="control steps of real observations")
    args = parser.parse_args(argv)
    try:
        res = export_policy(
            args.source, args.out, args.opset, args.ir_version, args.tol, rollout_steps=args.rollout_steps
        )
    except ExportError as err:
        return user_error(parser.prog, err)
    except ParityError as err:
        user_error(parser.prog, err)
        return 1
    print(
        f"wrote {res.path} ({res.size_bytes} bytes, opset {res.meta.opset}, IR {res.meta.ir_version}); "
        f"robot {res.meta.robot}, obs {res.meta.obs_dim}, actions {res.meta.action_dim}; parity max |diff| "
        f"random {res.max_abs_diff_random:.2e}, rollout {res.max_abs_diff_real:.2e} (tol {args.tol:g})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
