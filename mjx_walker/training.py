"""Training with Brax PPO: run directory, metrics, checkpoints, resume, NaN guard, and the CLI.

Brax's ``ppo.train`` does all the learning. Around it this module adds what Brax leaves out:
config checks before compiling, a run directory, orbax checkpoints at every eval (Brax's own
``save_checkpoint_path`` stores no run metadata and its config writer rejects our normalizing
network factory), and resume.

Resume: Brax's trainer exposes only ``(normalizer, policy, value)`` parameters, not the optimizer
state or the env states, so a resumed run restores those parameters from the latest complete
checkpoint (epoch k of N) and asks Brax for exactly the remaining ``N - k`` epochs of the same
size, so the final env-step count equals the uninterrupted run's. Not bit-identical to an
uninterrupted run: Adam's moments restart at zero, the envs restart from fresh resets, and the
random stream is re-seeded with ``seed + k``.

Warm start (``init_from``): a new run starts from another run's checkpoint (fine-tuning with
changed rewards, commands or PPO settings) instead of fresh parameters; its step count starts at
zero, and ``config.json`` records where it started. The networks and observation layout must match.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mjx_walker import distributed
from mjx_walker import run_dir as rd
from mjx_walker.configs import ConfigError, EnvConfig, RobotConfig, from_dict, to_dict
from mjx_walker.host_devices import check_host_device_count, check_host_devices, choose_host_devices
from mjx_walker.memory import check_memory
from mjx_walker.ppo_config import PPOConfig
from mjx_walker.presets import Stage
from mjx_walker.tb_log import import_wandb

DEFAULT_ROBOT = RobotConfig().name


class TrainingDiverged(RuntimeError):
    """Losses, parameters or observation statistics became NaN/inf."""


class PhysicsUnstable(TrainingDiverged):
    """Most eval episodes ended in a non-finite physics state: the env config makes MJX blow up."""


# Above this share of eval episodes ending in non-finite physics, training stops: the policy would
# learn from zeroed observations and rewards. Any non-zero share below it is reported as a warning.
MAX_NONFINITE_FRACTION = 0.5


class _TimeBudgetReached(Exception):
    """Raised at a checkpoint when the next epoch would not finish within ``time_limit_s``."""


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    run_dir: Path
    env_cfg: EnvConfig
    ppo_cfg: PPOConfig
    normalizer: Any  # brax RunningStatisticsState of all observation keys
    policy_params: Any
    value_params: Any
    metrics: list[dict[str, Any]]  # one row per eval, as in metrics.jsonl
    env_steps: int
    complete: bool = True  # False: stopped at a checkpoint by time_limit_s; resume to continue

    @property
    def policy_dir(self) -> Path:
        """Where the final policy was saved (read it with mjx_walker.policy.load_policy)."""
        return self.run_dir / rd.POLICY


def check_configs(
    env_cfg: EnvConfig, ppo_cfg: PPOConfig, device_count: int, backend: str = "cpu", processes: int = 1
) -> None:
    """Every check that can fail before compiling: types, Brax's divisibility, CPU device hangs.

    ``device_count`` counts the devices of all ``processes`` together.
    """
    if not isinstance(env_cfg, EnvConfig):
        raise ConfigError(f"env_cfg = {env_cfg!r} is invalid: expected an EnvConfig")
    if not isinstance(ppo_cfg, PPOConfig):
        raise ConfigError(f"ppo_cfg = {ppo_cfg!r} is invalid: expected a PPOConfig")
    ppo_cfg.check_devices(device_count, processes)
    if backend == "cpu":
        check_host_devices(ppo_cfg, device_count, processes)
        import jax

        distributed.check_cpu_processes(backend, processes, jax.__version__)


def _all_finite(tree: Any) -> bool:
    """Whether every float leaf of a pytree is finite."""
    import jax
    import numpy as np

    leaves = jax.tree.leaves(jax.device_get(tree))
    return all(np.all(np.isfinite(x)) for x in leaves if np.issubdtype(np.asarray(x).dtype, np.floating))


def check_finite(step: int, params: Any, metrics: dict[str, Any]) -> None:
    """Raise TrainingDiverged naming the step if losses, params or obs statistics are not finite."""
    bad = [k for k, v in metrics.items() if k.startswith("training/") and not math.isfinite(float(v))]
    if "eval/episode_reward" in metrics and not math.isfinite(float(metrics["eval/episode_reward"])):
        bad.append("eval/episode_reward")
    if params is not None:
        names = ("observation normalizer", "policy parameters", "value parameters")
        bad += [n for n, p in zip(names, params, strict=True) if not _all_finite(p)]
    if bad:
        raise TrainingDiverged(f"non-finite values at env step {step} in: {', '.join(bad)}")


def nonfinite_fraction(metrics: dict[str, Any]) -> float:
    """Share of eval episodes that ended in non-finite physics (NaN if the metric is absent)."""
    from mjx_walker.brax_env import NONFINITE_METRIC

    return float(metrics.get(f"eval/episode_{NONFINITE_METRIC}", float("nan")))


def check_physics_health(
    step: int, metrics: dict[str, Any], max_fraction: float = MAX_NONFINITE_FRACTION
) -> str | None:
    """Raise PhysicsUnstable above ``max_fraction`` non-finite eval episodes; a warning line if any; else None."""
    fraction = nonfinite_fraction(metrics)
    if not fraction > 0:  # 0, or NaN when not measured
        return None
    share = f"{fraction:.0%} of eval episodes at env step {step} ended in non-finite (NaN/inf) physics"
    if fraction > max_fraction:
        raise PhysicsUnstable(
            f"{share} (limit {max_fraction:.0%}): the env config makes the simulation blow up (check "
            "randomization ranges, sim.sim_dt, PD gains and pushes); their observations and rewards "
            "are zeroed, so training on would learn nothing"
        )
    return f"warning: {share}; their observations and rewards are zeroed and the envs reset"


def _metrics_row(step: int, wall: float, sps: float, metrics: dict[str, Any], terms: tuple[str, ...]) -> dict[str, Any]:
    """One metrics.jsonl row from Brax's eval metrics."""
    from mjx_walker.brax_env import NONFINITE_METRIC

    row: dict[str, Any] = {
        "env_steps": step,
        "wall_time": round(wall, 3),
        "steps_per_s": round(sps, 1),
        "episode_reward": float(metrics["eval/episode_reward"]),
        "episode_length": float(metrics["eval/avg_episode_length"]),
        NONFINITE_METRIC: nonfinite_fraction(metrics),
    }
    for name in terms:
        row[f"reward/{name}"] = float(metrics.get(f"eval/episode_reward/{name}", float("nan")))
    for key, value in sorted(metrics.items()):
        if key.startswith("training/"):
            row[key] = float(value)
    return row


def eval_line(row: dict[str, Any], total: int) -> str:
    """The line printed after each eval: env steps, steps/s, episode length, velocity tracking, reward."""
    track = row.get("reward/tracking_lin_vel")
    track_txt = "" if track is None or not math.isfinite(track) else f", tracking_lin_vel {track:.3g}"
    return (
        f"eval at {row['env_steps']:,} of {total:,} env steps: {row['steps_per_s']:,.0f} steps/s, "
        f"episode length {row['episode_length']:.0f}{track_txt}, reward {row['episode_reward']:.3g}"
    )


def _network_factory(ppo_cfg: PPOConfig, env_cfg: EnvConfig) -> Any:
    """Brax ``network_factory`` building our asymmetric actor-critic for these sizes."""
    from mjx_walker.brax_env import ACTOR_KEY, CRITIC_KEY
    from mjx_walker.policy import make_networks, policy_mirrors

    def factory(observation_size: Any, action_size: int, preprocess_observations_fn: Any = None) -> Any:
        """Brax's factory signature; normalization follows ppo_cfg.normalize_observations."""
        del preprocess_observations_fn
        sizes = (observation_size[ACTOR_KEY][0], observation_size[CRITIC_KEY][0], action_size)
        return make_networks(*sizes, ppo_cfg, policy_mirrors({}, env_cfg, ppo_cfg))

    return factory


def train(
    env_cfg: EnvConfig | None = None,
    ppo_cfg: PPOConfig | None = None,
    run_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    show_progress: bool = True,
    time_limit_s: float | None = None,
    init_from: str | os.PathLike | None = None,
    tensorboard: bool = True,
    wandb_project: str | None = None,
) -> TrainResult:
    """Train a policy with Brax PPO into ``run_dir`` (or resume it from its latest checkpoint).

    Every eval's metrics go to ``run_dir/metrics.jsonl`` and, unless ``tensorboard`` is False, to
    TensorBoard event files in ``run_dir/tb/``; with ``wandb_project`` (``wandb`` installed) also
    to a Weights & Biases run (:mod:`mjx_walker.tb_log`).

    ``init_from`` (a checkpoint, or a run whose latest checkpoint is used) starts a new run from
    those parameters (normalizer, policy, value) instead of fresh ones: fine-tuning.

    With ``time_limit_s``, training stops cleanly at the first checkpoint after which the next
    epoch (estimated from the last one) would end past that many seconds of this call; the result
    then has ``complete=False`` and ``train(..., resume=True)`` continues it. For jobs with a
    wall-clock limit (a 10-minute slot on a shared GPU, a cluster queue).

    The run directory is locked (``flock``) while training: a second ``train`` of the same
    directory raises :class:`~mjx_walker.run_dir.RunDirLocked` naming the holder's pid.
    """
    import jax

    t_start = time.monotonic()
    if resume:
        if run_dir is None:
            raise ValueError("resume=True needs the run_dir to resume")
        if env_cfg is None or ppo_cfg is None:
            saved = rd.read_config(Path(run_dir))
            env_cfg = env_cfg if env_cfg is not None else from_dict(EnvConfig, saved["env"])
            ppo_cfg = ppo_cfg if ppo_cfg is not None else from_dict(PPOConfig, saved["ppo"])
    env_cfg = env_cfg if env_cfg is not None else EnvConfig()
    ppo_cfg = ppo_cfg if ppo_cfg is not None else PPOConfig()
    if time_limit_s is not None and not time_limit_s > 0:
        raise ConfigError(f"time_limit_s = {time_limit_s!r} is invalid: expected seconds > 0, or None for no limit")
    devices, processes = jax.device_count(), jax.process_count()  # all processes' devices
    check_configs(env_cfg, ppo_cfg, devices, jax.default_backend(), processes)
    check_memory(env_cfg, ppo_cfg, devices, jax.local_device_count(), jax.local_devices()[0])
    if wandb_project is not None:
        import_wandb(wandb_project)
    if processes > 1 and time_limit_s is not None:
        raise ConfigError(
            f"time_limit_s = {time_limit_s!r} is not supported with {processes} processes: only process 0 "
            "sees the evals where training would stop; use the scheduler's time limit and resume instead"
        )
    if processes > 1 and run_dir is None:
        raise ConfigError(f"run_dir = None is invalid with {processes} processes: give every process the same run_dir")

    if run_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = Path("runs") / f"{env_cfg.robot.name}-{stamp}"
    run = Path(run_dir).resolve()
    args = (run, env_cfg, ppo_cfg, devices, resume, show_progress, time_limit_s, t_start, init_from)
    from mjx_walker.brax_compat import brax_patched

    with brax_patched():
        if not distributed.is_writer():  # process 0 alone writes (and locks) the run directory
            return _train_locked(*args, tensorboard=False)
        with rd.lock_run_dir(run):
            return _train_locked(*args, tensorboard=tensorboard, wandb_project=wandb_project)


def train_stages(
    stages: list[Stage],
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    show_progress: bool = True,
    time_limit_s: float | None = None,
    init_from: str | os.PathLike | None = None,
    select: int = 0,
    tensorboard: bool = True,
    wandb_project: str | None = None,
) -> TrainResult:
    """Train a preset's stages (:func:`mjx_walker.presets.get_stages`) one after another.

    One stage: exactly :func:`train` in ``run_dir``. Several: ``run_dir/stages.json`` records them,
    stage k trains in ``run_dir/<its name>/`` (a run directory of its own) and starts from the
    final checkpoint of stage k - 1 (``init_from``; the first stage from ``init_from`` if given);
    ``run_dir/policy/`` is the last stage's policy once it is done. ``resume=True`` continues
    whichever stage was running. ``time_limit_s`` covers all stages together. ``select`` > 0: at
    the end, the last stage's last ``select`` checkpoints are judged in MuJoCo C and the best becomes
    ``run_dir/policy/`` (:mod:`mjx_walker.selection`); a resumed run keeps the count it started with.
    """
    run = Path(run_dir)
    if len(stages) == 1:
        stage = stages[0]
        return train(
            stage.env,
            stage.ppo,
            run,
            resume=resume,
            show_progress=show_progress,
            time_limit_s=time_limit_s,
            init_from=init_from,
            tensorboard=tensorboard,
            wandb_project=wandb_project,
        )
    if resume and rd.read_stages(run) is None:
        raise rd.RunDirError(f"cannot resume {run} as a staged run: it has no {rd.STAGES_FILE}")
    if not resume and distributed.is_writer():  # process 0 alone reads and writes the run directory
        if run.exists() and any(run.iterdir()):
            raise FileExistsError(f"{run} already holds a run; resume it (--resume {run}) or pick another --out")
        rd.write_stages(
            run, [{"name": s.name, "env": to_dict(s.env), "ppo": to_dict(s.ppo)} for s in stages], select=select
        )
    if resume:
        select = rd.read_select(run)
    t_start = time.monotonic()
    result = None
    for i, stage in enumerate(stages):
        here = run / stage.name
        started = (here / rd.CONFIG_FILE).exists()
        left = None if time_limit_s is None else time_limit_s - (time.monotonic() - t_start)
        if left is not None and left <= 0 and result is not None:
            return dataclasses.replace(result, complete=False)
        print(f"stage {i + 1} of {len(stages)}: {stage.name} in {here}", file=sys.stderr)
        result = train(
            stage.env,
            stage.ppo,
            here,
            resume=started,
            show_progress=show_progress,
            time_limit_s=left,
            init_from=None if started else (run / stages[i - 1].name if i else init_from),
            tensorboard=tensorboard,
            wandb_project=wandb_project,
        )
        if not result.complete:
            return result
    if distributed.is_writer():
        tmp = run / f".{rd.POLICY}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(result.policy_dir, tmp)
        shutil.rmtree(run / rd.POLICY, ignore_errors=True)
        tmp.rename(run / rd.POLICY)
        if select > 0:
            from mjx_walker.selection import select_policy

            select_policy(run, run / stages[-1].name, select)
        print(f"done: all {len(stages)} stages; final policy {run / rd.POLICY}", file=sys.stderr)
    return result


def _newest_readable_checkpoint(ckpt_root: Path, steps: list[int]) -> tuple[dict[str, Any], Any] | None:
    """(meta, params) of the newest of ``steps`` that loads; a damaged one is named and skipped."""
    from mjx_walker import checkpointing as ck

    for i, step in enumerate(reversed(steps)):
        path = ck.step_dir(ckpt_root, step)
        try:
            meta, params, _ = ck.load_checkpoint(path)
            return meta, params
        except Exception as err:  # noqa: BLE001 - orbax raises JSON, OS, value and key errors on damage
            previous = steps[-2 - i] if i + 1 < len(steps) else None
            then = f"resuming from the previous one, at {previous:,} env steps" if previous else "none is left"
            print(f"warning: checkpoint {path} is damaged ({type(err).__name__}: {err}); {then}", file=sys.stderr)
    return None


def check_checkpoint_config(run: Path, meta: dict[str, Any], record: dict[str, Any]) -> None:
    """Refuse (ConfigError naming each field and both values) a config.json edited since the checkpoint."""
    diffs = rd.config_differences({"env": meta["env"], "ppo": meta["ppo"]}, record)
    if diffs:
        raise ConfigError(
            f"cannot resume {run}: its {rd.CONFIG_FILE} differs from the config its checkpoint at "
            f"{int(meta['step']):,} env steps was trained with (checkpoint -> now):\n  " + "\n  ".join(diffs)
        )


def _resume_point(run: Path, epoch_steps: int, record: dict[str, Any]) -> tuple[int, Any, list[dict[str, Any]]]:
    """(completed epochs, params to restore or None, metrics rows kept) of a run being resumed.

    Refuses (RunDirError) when the metrics reach past what the checkpoints can restore, and
    (ConfigError) a ``record`` that differs from the config stored with the checkpoint; falls
    back past a damaged newest checkpoint, saying so; drops the rows after the checkpoint it
    restores (they are trained again) and unreadable lines, saying so.
    """
    from mjx_walker import checkpointing as ck

    ckpt_root = run / rd.CHECKPOINTS
    steps = ck.complete_steps(ckpt_root)
    rd.check_resumable(run, rd.read_metrics(run), steps[-1] if steps else None, epoch_steps, ckpt_root.is_dir())
    done_epochs, restore = 0, None
    found = _newest_readable_checkpoint(ckpt_root, steps) if steps else None
    if steps and found is None:
        raise rd.RunDirError(f"cannot resume {run}: every checkpoint in {ckpt_root} is damaged")
    if found is not None:
        meta, restore = found
        check_checkpoint_config(run, meta, record)
        done_epochs = int(meta["epoch"])
    rows, bad = rd.truncate_metrics(run, done_epochs * epoch_steps if steps else -1)
    if bad:
        print(f"note: {run / rd.METRICS_FILE}: dropped unreadable line(s) {bad}", file=sys.stderr)
    return done_epochs, restore, rows


def warm_start(path: str | os.PathLike, env_cfg: EnvConfig, ppo_cfg: PPOConfig) -> tuple[dict[str, Any], Any]:
    """({"checkpoint", "env_steps"}, params) of a checkpoint to start from; ConfigError if they do not fit.

    The checkpoint's (normalizer, policy, value) shapes must equal those these configs build:
    same robot, observation layout, action size and hidden layers.
    """
    import jax
    import numpy as np

    from mjx_walker import checkpointing as ck

    ckpt = ck.resolve_checkpoint(path)
    meta, params, _ = ck.load_checkpoint(ckpt)
    _, *template = ck.param_templates(env_cfg, ppo_cfg)

    def shapes(tree: Any) -> dict[str, tuple[int, ...]]:
        """``{"path": shape}`` of every leaf."""
        return {jax.tree_util.keystr(k): np.shape(v) for k, v in jax.tree_util.tree_leaves_with_path(tree)}

    have, want = shapes(params), shapes(tuple(template))
    if have != want:
        diffs = [
            f"{k}: {have.get(k)} (checkpoint) vs {want.get(k)} (this config)"
            for k in sorted(have.keys() | want.keys())
            if have.get(k) != want.get(k)
        ]
        raise ConfigError(
            f"init_from = {str(path)!r} does not fit this config: its networks or observations differ "
            f"({len(diffs)} parameter shapes; allowed: a checkpoint of the same robot, observation terms and "
            "hidden layers):\n  " + "\n  ".join(diffs[:8])
        )
    return {"checkpoint": str(ckpt), "env_steps": int(meta["step"])}, params


def _train_locked(
    run: Path,
    env_cfg: EnvConfig,
    ppo_cfg: PPOConfig,
    devices: int,
    resume: bool,
    show_progress: bool,
    time_limit_s: float | None,
    t_start: float,
    init_from: str | os.PathLike | None = None,
    *,
    tensorboard: bool = True,
    wandb_project: str | None = None,
) -> TrainResult:
    """The body of :func:`train`, run while holding the run directory's lock (process 0; others write nothing)."""
    from brax.training.agents.ppo import train as ppo

    from mjx_walker import checkpointing as ck
    from mjx_walker.brax_env import BraxWalkEnv, wrap_for_training
    from mjx_walker.env import WalkEnv
    from mjx_walker.plotting import plot_learning_curves
    from mjx_walker.policy import save_policy
    from mjx_walker.progress import TrainingProgress
    from mjx_walker.tb_log import TensorBoardLog, WandbLog

    ckpt_root = run / rd.CHECKPOINTS
    record = rd.resolved_config(env_cfg, ppo_cfg, devices)
    epoch_steps, num_epochs = ppo_cfg.env_steps_per_epoch, ppo_cfg.num_epochs
    done_epochs, restore, rows = 0, None, []
    writer = distributed.is_writer()
    record["schedule"]["process_count"] = distributed.process_count()
    if not writer:
        # Process 0 reads the run; the others take its start (epochs done, parameters) below.
        resume, init_from, show_progress = False, None, False
    if resume:
        rd.check_same_config(run, record)
        done_epochs, restore, rows = _resume_point(run, epoch_steps, record)
        saved_init = rd.read_config(run).get("init_from")
        if saved_init and restore is not None:  # its own checkpoint wins; keep the record of where it started
            record["init_from"] = saved_init
        elif saved_init:
            init_from = init_from or saved_init["checkpoint"]
    elif writer and (run / rd.CONFIG_FILE).exists():
        raise FileExistsError(f"{run} already holds a run; resume it (--resume {run}) or pick another --out")
    if init_from is not None and restore is None:
        record["init_from"], restore = warm_start(init_from, env_cfg, ppo_cfg)
    done_epochs, restore = distributed.share_start(
        done_epochs, restore, lambda: tuple(ck.param_templates(env_cfg, ppo_cfg)[1:])
    )
    if writer:
        rd.write_config(run, record)
        ckpt_root.mkdir(exist_ok=True)  # before any metrics row: a run with rows but no checkpoints/ lost them

    terms = env_cfg.reward.term_names
    offset = done_epochs * epoch_steps
    wall_offset = float(rows[-1].get("wall_time", 0.0)) if rows else 0.0
    bar = TrainingProgress(ppo_cfg.total_env_steps, offset, enabled=show_progress)
    tb = TensorBoardLog(run, enabled=tensorboard and writer)
    wb = WandbLog(run, wandb_project if writer else None, config={"env": to_dict(env_cfg), "ppo": to_dict(ppo_cfg)})
    latest: dict[str, Any] = {"params": restore, "step": offset, "time": time.monotonic()}
    if rows:
        bar.write(f"resuming {run} at env step {offset} (epoch {done_epochs}/{num_epochs})")

    def policy_params_fn(step: int, make_policy: Any, params: Any) -> None:
        """Keep the parameters Brax just produced; they are checkpointed with their eval."""
        del make_policy
        if step > 0:
            latest["pending"] = (offset + step, params)

    def progress_fn(step: int, metrics: dict[str, Any]) -> None:
        """At every eval: NaN check, metrics row, physics health, checkpoint, plot, progress bar."""
        global_step = offset + step
        if step == 0 and done_epochs > 0:
            return  # the resumed run's initial eval repeats the checkpoint's row
        params = None
        if step > 0:
            pending_step, params = latest.pop("pending")
            assert pending_step == global_step, (pending_step, global_step)
        check_finite(global_step, params, metrics)
        now = time.monotonic()
        sps = (global_step - latest["step"]) / max(now - latest["time"], 1e-9)
        row = _metrics_row(global_step, wall_offset + now - t_start, sps, metrics, terms)
        rd.append_metrics(run, row)
        rows.append(row)
        tb.write(row)
        wb.write(row)
        if writer:
            bar.write(eval_line(row, ppo_cfg.total_env_steps))
        warning = check_physics_health(global_step, metrics)  # after the row: it shows the share
        if warning:
            bar.write(warning)
        if params is not None:
            ck.save_checkpoint(ckpt_root, global_step, global_step // epoch_steps, params, env_cfg, ppo_cfg)
            latest["params"] = params
        epoch_s = time.monotonic() - latest["time"]
        latest["step"], latest["time"] = global_step, time.monotonic()
        plot_learning_curves(rows, run / rd.PLOT_FILE)
        bar.update(global_step, row["episode_reward"], row["episode_length"])
        if time_limit_s is not None and params is not None and global_step < ppo_cfg.total_env_steps:
            if time.monotonic() - t_start + epoch_s > time_limit_s:
                raise _TimeBudgetReached(global_step)

    remaining = num_epochs - done_epochs
    try:
        if remaining > 0:
            _, latest["final"], _ = ppo.train(
                environment=BraxWalkEnv(WalkEnv(env_cfg)),
                num_timesteps=remaining * epoch_steps,
                num_evals=remaining + 1,
                wrap_env_fn=wrap_for_training,
                num_envs=ppo_cfg.num_envs,
                num_eval_envs=ppo_cfg.num_eval_envs,
                episode_length=env_cfg.command.episode_length,
                unroll_length=ppo_cfg.unroll_length,
                batch_size=ppo_cfg.batch_size,
                num_minibatches=ppo_cfg.num_minibatches,
                num_updates_per_batch=ppo_cfg.num_updates_per_batch,
                learning_rate=ppo_cfg.learning_rate,
                entropy_cost=ppo_cfg.entropy_cost,
                discounting=ppo_cfg.discounting,
                gae_lambda=ppo_cfg.gae_lambda,
                clipping_epsilon=ppo_cfg.clipping_epsilon,
                max_grad_norm=ppo_cfg.max_grad_norm,
                reward_scaling=ppo_cfg.reward_scaling,
                normalize_observations=ppo_cfg.normalize_observations,
                deterministic_eval=ppo_cfg.deterministic_eval,
                network_factory=_network_factory(ppo_cfg, env_cfg),
                seed=ppo_cfg.seed + done_epochs,
                restore_params=restore,
                progress_fn=progress_fn,
                policy_params_fn=policy_params_fn,
            )
    except TrainingDiverged as err:
        bar.close()
        last = ck.complete_steps(ckpt_root)
        kept = f"last good checkpoint: {ck.step_dir(ckpt_root, last[-1])}" if last else "no checkpoint yet"
        raise type(err)(f"{err}; training stopped, {kept}") from err
    except _TimeBudgetReached as stop:
        bar.close()
        step = int(stop.args[0])
        print(
            f"paused: time limit {time_limit_s:.0f} s reached at env step {step} of {ppo_cfg.total_env_steps} "
            f"(checkpoint written); continue with train(..., resume=True) or --resume {run}",
            file=sys.stderr,
        )
        normalizer, policy_params, value_params = latest["params"]
        return TrainResult(run, env_cfg, ppo_cfg, normalizer, policy_params, value_params, rows, step, complete=False)
    finally:
        tb.close()
        wb.close()
    bar.close()

    if not writer:  # the same parameters as process 0's (Brax asserts they are replicated)
        normalizer, policy_params, value_params = latest.get("final") or latest["params"]
        steps = num_epochs * epoch_steps
        return TrainResult(run, env_cfg, ppo_cfg, normalizer, policy_params, value_params, [], steps)
    normalizer, policy_params, value_params = latest["params"]
    save_policy(run / rd.POLICY, env_cfg, ppo_cfg, normalizer, policy_params)
    if rows:
        plot_learning_curves(rows, run / rd.PLOT_FILE)
    final_steps = rows[-1]["env_steps"] if rows else offset
    elapsed = time.monotonic() - t_start
    print(
        f"done: {final_steps} env steps, {elapsed:.0f} s in this process; run {run}: config "
        f"{rd.CONFIG_FILE}, metrics {rd.METRICS_FILE}, plot {rd.PLOT_FILE}, checkpoints "
        f"{rd.CHECKPOINTS}/, policy {rd.POLICY}/ (final eval reward "
        f"{rows[-1]['episode_reward']:.3g}, length {rows[-1]['episode_length']:.0f})"
        if rows
        else f"done: nothing to train in {run}",
        file=sys.stderr,
    )
    return TrainResult(run, env_cfg, ppo_cfg, normalizer, policy_params, value_params, rows, final_steps)


def _parser() -> argparse.ArgumentParser:
    """The CLI's argument parser (presets and robots listed in --help)."""
    from mjx_walker.presets import PRESETS, SECTIONS
    from mjx_walker.robots import ROBOTS

    presets = "\n".join(f"  {k:5s} {v}" for k, v in PRESETS.items())
    parser = argparse.ArgumentParser(
        prog="python -m mjx_walker.train",
        description="Train a humanoid walking policy with Brax PPO on MuJoCo MJX.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"presets:\n{presets}\n\nrobots: {', '.join(sorted(ROBOTS))}\n"
        f"--set sections: {', '.join(SECTIONS)}\n"
        "  (e.g. --set ppo.num_envs=32 --set push.enabled=False)",
    )
    parser.add_argument(
        "--robot", default=None, choices=sorted(ROBOTS), help="default: berkeley_humanoid (not with --resume)"
    )
    parser.add_argument(
        "--preset",
        default=None,
        choices=sorted(PRESETS),
        help="default: gpu if a GPU is present, else cpu (not with --resume)",
    )
    parser.add_argument("--out", default=None, help="run directory (default runs/<robot>-<preset>-<timestamp>)")
    parser.add_argument(
        "--resume",
        default=None,
        metavar="RUN_DIR",
        help="continue this run from its latest checkpoint",
    )
    parser.add_argument(
        "--init-from",
        default=None,
        metavar="CHECKPOINT",
        help="start a new run from this checkpoint (or a run's latest) instead of fresh parameters: fine-tuning",
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    parser.add_argument(
        "--host-devices",
        type=int,
        default=None,
        help="CPU only: XLA host devices Brax pmaps over (default: as many as cores that cannot hang)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop cleanly at the last checkpoint that fits in this many seconds; --resume continues",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--no-tensorboard", action="store_true", help="no TensorBoard event files in RUN/tb (metrics.jsonl stays)"
    )
    parser.add_argument(
        "--wandb", metavar="PROJECT", help="also log to this Weights & Biases project (pip install wandb)"
    )
    parser.add_argument(
        "--no-select",
        action="store_true",
        help="keep the last checkpoint as the policy (a walking preset otherwise judges its last few "
        "checkpoints in MuJoCo C and keeps the best; selection.json in the run)",
    )
    group = parser.add_argument_group(
        "several processes (jax.distributed; process 0 writes the run directory, give all the same --out)"
    )
    group.add_argument("--coordinator", default=None, metavar="HOST:PORT", help="process 0's address and a free port")
    group.add_argument("--num-processes", type=int, default=None, metavar="N", help="how many processes train together")
    group.add_argument("--process-id", type=int, default=None, metavar="I", help="this process's rank, 0..N-1")
    group.add_argument(
        "--distributed",
        action="store_true",
        help="join the processes the cluster launched (SLURM, Open MPI, Kubernetes; detected by JAX)",
    )
    return parser


def _setup_jax(
    host_devices: int | None,
    ppo_cfg: PPOConfig | None = None,
    processes: int = 1,
    on_this_host: int = 1,
    sim_backend: str = "mjx",
) -> int:
    """Before JAX starts: the XLA host device count (and an optional compilation cache); the count.

    ``host_devices`` None: every core (shared by ``on_this_host`` processes), or for ``ppo_cfg``
    (split over ``processes``) the most that cannot hang (:mod:`mjx_walker.host_devices`); one
    for the MuJoCo C physics (``sim_backend="mujoco"``), whose own thread pool uses the cores.
    Ignored when XLA_FLAGS already sets a count.
    """
    cores = max((os.cpu_count() or 1) // max(on_this_host, 1), 1)
    if host_devices is not None:
        count = host_devices
    else:
        count = choose_host_devices(ppo_cfg, cores, processes, sim_backend) if ppo_cfg is not None else cores
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()
    if os.environ.get("MJX_WALKER_JAX_CACHE"):
        from mjx_walker.jax_cache import enable_compilation_cache

        enable_compilation_cache()
    return count


def _cli_configs(args: argparse.Namespace, preset: str) -> tuple[EnvConfig, PPOConfig]:
    """The configs the CLI trains first (a resumed run's saved ones, or the preset's), overrides applied."""
    first = _cli_stages(args, preset)[0]
    return first.env, first.ppo


def _cli_stages(args: argparse.Namespace, preset: str) -> list[Stage]:
    """The stages the CLI trains (a resumed run's saved ones, or the preset's), overrides applied to each."""
    from mjx_walker.presets import apply_overrides, get_stages

    if args.resume:
        staged = rd.read_stages(Path(args.resume))
        if staged is not None:
            bases = [(st["name"], from_dict(EnvConfig, st["env"]), from_dict(PPOConfig, st["ppo"])) for st in staged]
        else:
            saved = rd.read_config(Path(args.resume))
            bases = [("main", from_dict(EnvConfig, saved["env"]), from_dict(PPOConfig, saved["ppo"]))]
        base = bases[0][1:]
        # A resumed run keeps its saved configs: options that would choose others are refused, not ignored.
        robot = base[0].robot.name
        if args.robot is not None and args.robot != robot:
            raise ConfigError(
                f"--robot {args.robot} conflicts with the run being resumed ({args.resume} trains {robot}); "
                "a resumed run keeps its saved configs: drop --robot"
            )
        for flag, value in (("--preset", args.preset), ("--out", args.out), ("--init-from", args.init_from)):
            if value is not None:
                raise ConfigError(
                    f"{flag} {value} does not apply with --resume: the run continues in {args.resume} with "
                    f"its saved configs; drop {flag} (change settings with --set, the same on every call)"
                )
    else:
        bases = [(st.name, st.env, st.ppo) for st in get_stages(args.robot or DEFAULT_ROBOT, preset)]
    return [Stage(name, *apply_overrides(env, ppo, args.overrides)) for name, env, ppo in bases]


def _interrupted(run: str | None) -> str:
    """One line after Ctrl-C: what was kept and how to go on."""
    from mjx_walker.checkpointing import complete_steps

    if run is None:
        return "interrupted before training started; nothing was written"
    if run:  # a plain run's checkpoints, or any stage's
        folders = [Path(run)] + [Path(run) / st["name"] for st in rd.read_stages(Path(run)) or []]
        steps = [s for f in folders for s in complete_steps(f / rd.CHECKPOINTS)]
    else:
        steps = []
    if not steps:
        return (
            f"interrupted before the first checkpoint of {run}: nothing trained was kept; start again with "
            f"python -m mjx_walker.train --resume {run} (its configs are saved), or another --out"
        )
    return f"interrupted; kept {run} at {steps[-1]:,} env steps: python -m mjx_walker.train --resume {run}"


def main(argv: list[str] | None = None, watch: Any = None) -> TrainResult:
    """CLI: ``python -m mjx_walker.train [--robot] [--preset] [--out] [--resume] [--set ...]``.

    ``watch`` (:class:`mjx_walker.stop_watch.Watch`, the command installs one) is told the run, so
    a stop signal prints the run's ``--resume`` line.
    """
    args = _parser().parse_args(argv)
    run = args.resume
    if watch is not None:
        watch.describe = lambda signum: f"{signal.Signals(signum).name}: {_interrupted(run)}"
    try:
        check_host_device_count(args.host_devices)
        launch = distributed.parse_launch(args.coordinator, args.num_processes, args.process_id, args.distributed)
        if launch is not None and launch.several:
            if not (args.out or args.resume):
                raise ConfigError(
                    "several processes need --out RUN_DIR (the same on every process; process 0 writes it)"
                )
            if args.time_limit is not None:
                raise ConfigError(
                    f"--time-limit {args.time_limit:g} is not supported with several processes: only process 0 "
                    "sees the evals where training would stop; use the scheduler's time limit and --resume"
                )
        # Resolved before JAX starts, to size the CPU devices; without --preset that is the cpu
        # preset's batch (on a GPU the host device count does not matter).
        env_guess, ppo_guess = _cli_configs(args, args.preset or "cpu")
    except (ConfigError, FileNotFoundError, rd.RunDirError) as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from err
    processes = (launch.num_processes or 1) if launch else 1
    # processes whose coordinator is this machine share its cores
    local = launch is not None and str(launch.coordinator).rpartition(":")[0] in ("localhost", "127.0.0.1", "[::1]")
    _setup_jax(args.host_devices, ppo_guess, processes, processes if local else 1, env_guess.sim.backend)
    if launch is not None:
        distributed.initialize(launch)
    import jax

    if jax.process_count() > 1:
        target = args.resume or args.out
        print(
            f"process {jax.process_index()} of {jax.process_count()}: process 0 writes {target}; if a process "
            "dies, JAX stops the others ('the JAX distributed service detected fatal errors'): then run the "
            f"same command with --resume {target} (instead of --out/--preset) on every process",
            file=sys.stderr,
        )

    backend = jax.default_backend()
    print(
        f"devices: {jax.local_device_count()} x {jax.local_devices()[0].device_kind} ({backend})",
        file=sys.stderr,
    )
    try:
        if args.resume:
            stages = _cli_stages(args, "")
            print(f"run: {run} (resumed)", file=sys.stderr)
            return train_stages(
                stages,
                args.resume,
                resume=True,
                show_progress=not args.no_progress,
                time_limit_s=args.time_limit,
                tensorboard=not args.no_tensorboard,
                wandb_project=args.wandb,
            )
        preset = args.preset or ("gpu" if backend == "gpu" else "cpu")
        print(
            f"preset: {preset}" + ("" if args.preset else f" (default on {backend})"),
            file=sys.stderr,
        )
        stages = _cli_stages(args, preset)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        run = args.out or f"runs/{args.robot or DEFAULT_ROBOT}-{preset}-{stamp}"
        print(
            f"run: {run}"
            + (f" ({len(stages)} stages: {', '.join(s.name for s in stages)})" if len(stages) > 1 else ""),
            file=sys.stderr,
        )
        if args.init_from:
            print(f"init from: {args.init_from}", file=sys.stderr)
        from mjx_walker.presets import SELECT_CHECKPOINTS

        return train_stages(
            stages,
            run,
            show_progress=not args.no_progress,
            time_limit_s=args.time_limit,
            init_from=args.init_from,
            select=0 if args.no_select else SELECT_CHECKPOINTS.get(preset, 0),
            tensorboard=not args.no_tensorboard,
            wandb_project=args.wandb,
        )
    except KeyboardInterrupt:
        print(_interrupted(run), file=sys.stderr)
        raise SystemExit(130) from None
    except (ConfigError, FileExistsError, FileNotFoundError, rd.RunDirError) as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from err
    except TrainingDiverged as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(1) from err
