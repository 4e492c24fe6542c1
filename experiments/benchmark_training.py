"""Benchmark: PPO training throughput and time to the first evals, for a preset.

    python experiments/benchmark_training.py [--robot berkeley_humanoid] [--preset cpu] [--epochs 3]
    python experiments/benchmark_training.py --preset gpu --epochs 3                      # on a GPU
    python experiments/benchmark_training.py --preset test --epochs 3 --processes 2      # 1 vs 2 processes

Runs ``mjx_walker.training.train`` (Brax PPO, as ``python -m mjx_walker.train`` does) on the
preset's env and PPO configs, cut to ``--epochs`` epochs of the preset's own epoch size
(``env_steps_per_epoch`` unchanged: ``num_timesteps`` and ``num_evals`` are set for it), into a
temporary run directory. From its ``metrics.jsonl`` (one row per eval: env steps, wall time since
``train`` started, steps/s since the previous eval, eval included) it reports:

* time to the step-0 eval: env build, reset/eval compile and the first eval;
* time to the first trained eval: adds the training-epoch compile and epoch 1;
* steady-state PPO env (= control) steps/s over epochs 2.. (needs ``--epochs`` >= 2): env steps
  between the eval after epoch 1 and the last eval, divided by the wall time between them, evals
  included (as the rows of metrics.jsonl count them); per-epoch rows are recorded too.

On CPU, like the CLI, JAX gets one XLA host device per core (``--host-devices`` to change it) and
Brax pmaps over them; the device count is recorded. ``MJX_WALKER_JAX_CACHE`` (persistent
compilation cache) would make the compile times meaningless: the record says whether it was set.

``--processes N`` (N > 1) measures the same training as N cooperating processes on this machine
(``jax.distributed`` over localhost, as docs/training.md's launch lines) and, in the same run, as one
process for reference; it prints both and records env steps/s in total and per device.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import _record

from mjx_walker.configs import SIM_BACKENDS, to_dict
from mjx_walker.ppo_config import PPOConfig
from mjx_walker.presets import PRESETS
from mjx_walker.robots import ROBOTS
from mjx_walker.training import _setup_jax


def cut_to_epochs(ppo_cfg: PPOConfig, epochs: int) -> PPOConfig:
    """The same PPO config trained for ``epochs`` epochs of the same env steps per epoch."""
    cut = ppo_cfg.replace(num_timesteps=epochs * ppo_cfg.env_steps_per_epoch, num_evals=epochs + 1)
    if cut.num_epochs != epochs or cut.env_steps_per_epoch != ppo_cfg.env_steps_per_epoch:
        raise ValueError(f"cannot cut {ppo_cfg} to {epochs} epochs of {ppo_cfg.env_steps_per_epoch} env steps")
    return cut


def throughput(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Time to the step-0 and first trained evals, and steady steps/s over epochs 2.., from metrics rows."""
    out: dict[str, Any] = {
        "time_to_step0_eval_s": rows[0]["wall_time"],
        "time_to_first_trained_eval_s": rows[1]["wall_time"] if len(rows) > 1 else None,
        "first_epoch_s": rows[1]["wall_time"] - rows[0]["wall_time"] if len(rows) > 1 else None,
        "total_s": rows[-1]["wall_time"],
        "per_epoch": [
            {"epoch": i, "env_steps": r["env_steps"], "wall_time": r["wall_time"], "steps_per_s": r["steps_per_s"]}
            for i, r in enumerate(rows)
            if i > 0
        ],
        "steady_env_steps_per_s": None,
        "steady_epochs": [],
    }
    if len(rows) > 2:
        first, last = rows[1], rows[-1]
        out["steady_env_steps_per_s"] = (last["env_steps"] - first["env_steps"]) / (
            last["wall_time"] - first["wall_time"]
        )
        out["steady_epochs"] = list(range(2, len(rows)))
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train the cut preset in a temporary folder, print and record the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", default="berkeley_humanoid", choices=sorted(ROBOTS))
    parser.add_argument("--preset", default=None, choices=sorted(PRESETS), help="default: gpu on a GPU, else cpu")
    parser.add_argument("--epochs", type=int, default=3, help="epochs to train (>= 2 for a steady-state rate)")
    parser.add_argument("--host-devices", type=int, default=None, help="CPU only: XLA host devices (default: cores)")
    parser.add_argument("--out", default=None, help="results folder (default experiments/results)")
    parser.add_argument("--processes", type=int, default=1, help="> 1: N local processes against 1 process")
    parser.add_argument("--backend", default=None, choices=SIM_BACKENDS, help="physics (default: the preset's)")
    parser.add_argument(
        "--compare-backends", action="store_true", help="MJX and MuJoCo C physics, one process each, side by side"
    )
    parser.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)  # COORDINATOR N I
    parser.add_argument("--child-result", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be >= 1")
    if args.processes < 1:
        parser.error("--processes must be >= 1")
    if args.processes > 1:
        return compare_processes(args)
    if args.compare_backends:
        return compare_backends(args)
    if args.child:
        return run_child(args)

    from mjx_walker.presets import get_preset

    # before JAX starts, as the CLI does: a device count that cannot hang this preset's batch
    guess_env, guess_ppo = get_preset(args.robot, args.preset or "cpu")
    _setup_jax(args.host_devices, guess_ppo, sim_backend=args.backend or guess_env.sim.backend)
    import jax

    from mjx_walker.training import train

    preset = args.preset or ("gpu" if jax.default_backend() == "gpu" else "cpu")
    env_cfg, preset_ppo = get_preset(args.robot, preset)
    if args.backend:
        env_cfg = dataclasses.replace(env_cfg, sim=dataclasses.replace(env_cfg.sim, backend=args.backend))
    ppo_cfg = cut_to_epochs(preset_ppo, args.epochs)
    devices = jax.local_device_count()
    print(
        f"robot={args.robot} preset={preset} epochs={args.epochs} x {ppo_cfg.env_steps_per_epoch} env steps, "
        f"num_envs={ppo_cfg.num_envs}, physics={env_cfg.sim.backend}, "
        f"devices={devices} x {jax.local_devices()[0].device_kind}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench_training_") as tmp:
        result = train(env_cfg, ppo_cfg, run_dir=os.path.join(tmp, "run"), show_progress=False)
    res = throughput(result.metrics)
    res.update(device_count=devices, num_envs=ppo_cfg.num_envs, env_steps_per_epoch=ppo_cfg.env_steps_per_epoch)
    res.update(sim_backend=env_cfg.sim.backend)
    if args.child_result:
        Path(args.child_result).write_text(json.dumps(res))
        return res
    steady = res["steady_env_steps_per_s"]
    print(
        f"time to step-0 eval {res['time_to_step0_eval_s']:.1f} s, to first trained eval "
        f"{res['time_to_first_trained_eval_s']:.1f} s, steady "
        + (f"{steady:,.0f} env steps/s (epochs {res['steady_epochs']})" if steady else "n/a (needs --epochs >= 2)")
        + f", total {res['total_s']:.1f} s"
    )
    rec = _record.record(
        f"benchmark_training_{args.robot}_{preset}_{devices}dev",
        res,
        benchmark="training",
        robot=args.robot,
        preset=preset,
        epochs=args.epochs,
        host_devices=devices if jax.default_backend() == "cpu" else None,
        jax_compilation_cache=os.environ.get("MJX_WALKER_JAX_CACHE") or jax.config.jax_compilation_cache_dir,
        env_config=to_dict(env_cfg),
        ppo_config=to_dict(ppo_cfg),
    )
    print(f"recorded in {_record.write(rec, args.out)}")
    return rec


def _child_cmd(args: argparse.Namespace, result: Path, launch: list[str] | None) -> list[str]:
    """This script as one measured training process (one of ``launch`` = [coordinator, N, I], or alone)."""
    cmd = [sys.executable, __file__, "--robot", args.robot, "--epochs", str(args.epochs), "--child-result", str(result)]
    cmd += ["--preset", args.preset] if args.preset else []
    cmd += ["--host-devices", str(args.host_devices)] if args.host_devices else []
    return cmd + ["--child", *(launch or ["-", "1", "0"])]


def run_child(args: argparse.Namespace) -> dict[str, Any]:
    """One process of a measured training; process 0 writes its figures to ``--child-result``."""
    from mjx_walker import distributed
    from mjx_walker.presets import get_preset

    coordinator, n, i = args.child[0], int(args.child[1]), int(args.child[2])
    ppo = get_preset(args.robot, args.preset or "cpu")[1]
    _setup_jax(args.host_devices, ppo, n, n)  # the processes share this machine's cores
    if n > 1:
        distributed.initialize(distributed.Launch(coordinator, n, i))
    import jax

    from mjx_walker.training import train

    env_cfg, preset_ppo = get_preset(args.robot, args.preset or "cpu")
    ppo_cfg = cut_to_epochs(preset_ppo, args.epochs)
    run = Path(args.child_result).parent / "run"  # in the comparison's temporary folder, the same for all
    result = train(env_cfg, ppo_cfg, run_dir=run, show_progress=False)
    res = throughput(result.metrics) if jax.process_index() == 0 else {}
    if jax.process_index() == 0:
        res.update(processes=n, device_count=jax.device_count(), local_devices=jax.local_device_count())
        steady = res["steady_env_steps_per_s"]
        res["steady_env_steps_per_s_per_device"] = steady / jax.device_count() if steady else None
        Path(args.child_result).write_text(json.dumps(res))
    return res


def compare_processes(args: argparse.Namespace) -> dict[str, Any]:
    """Train as N local processes and as 1 process (same preset and epochs); print and record both."""
    from mjx_walker.presets import get_preset

    preset = args.preset or "cpu"
    figures = {}
    with tempfile.TemporaryDirectory(prefix="bench_processes_") as tmp:
        for n in (1, args.processes):
            folder = Path(tmp) / f"p{n}"
            folder.mkdir()
            result = folder / "result.json"
            if n == 1:
                cmds = [_child_cmd(args, result, None)]
            else:
                with socket.socket() as s:
                    s.bind(("localhost", 0))
                    port = s.getsockname()[1]
                cmds = [_child_cmd(args, result, [f"localhost:{port}", str(n), str(i)]) for i in range(n)]
            procs = [subprocess.Popen(c) for c in cmds]
            if any(p.wait() for p in procs):
                raise SystemExit(f"a {n}-process training failed")
            figures[n] = json.loads(result.read_text())
    for n, f in figures.items():
        steady, per = f["steady_env_steps_per_s"], f["steady_env_steps_per_s_per_device"]
        print(
            f"{n} process(es), {f['device_count']} device(s): steady {steady:,.0f} env steps/s "
            f"({per:,.0f} per device), time to first trained eval {f['time_to_first_trained_eval_s']:.0f} s"
        )
    one, many = figures[1]["steady_env_steps_per_s"], figures[args.processes]["steady_env_steps_per_s"]
    print(f"{args.processes} processes / 1 process: {many / one:.2f}x env steps/s")
    env_cfg, ppo_cfg = get_preset(args.robot, preset)
    rec = _record.record(
        f"benchmark_training_processes_{args.robot}_{preset}",
        {"one_process": figures[1], f"{args.processes}_processes": figures[args.processes], "ratio": many / one},
        benchmark="training_processes",
        robot=args.robot,
        preset=preset,
        epochs=args.epochs,
        ppo_config=to_dict(cut_to_epochs(ppo_cfg, args.epochs)),
        # set: compiles came (partly) from an earlier run's cache; only the steady rates compare
        jax_compilation_cache=os.environ.get("MJX_WALKER_JAX_CACHE"),
    )
    print(f"recorded in {_record.write(rec, args.out)}")
    return rec


def compare_backends(args: argparse.Namespace) -> dict[str, Any]:
    """The preset on MJX and on MuJoCo C physics, one fresh process each; print and record both."""
    from mjx_walker.presets import get_preset

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench_backends_") as tmp:
        for backend in SIM_BACKENDS:
            result = Path(tmp) / f"{backend}.json"
            cmd = [sys.executable, __file__, "--robot", args.robot, "--epochs", str(args.epochs), "--backend", backend]
            cmd += ["--preset", args.preset] if args.preset else []
            cmd += ["--host-devices", str(args.host_devices)] if args.host_devices else []
            if subprocess.run([*cmd, "--child-result", str(result)]).returncode:
                raise SystemExit(f"the {backend} training failed")
            figures[backend] = json.loads(result.read_text())
    for backend, f in figures.items():
        steady, first = f["steady_env_steps_per_s"], f["time_to_first_trained_eval_s"]
        print(
            f"{backend:>6} physics, {f['device_count']} device(s): steady {steady:,.0f} env steps/s, "
            f"step-0 eval {f['time_to_step0_eval_s']:.0f} s, first trained eval {first:.0f} s"
        )
    ratio = figures["mujoco"]["steady_env_steps_per_s"] / figures["mjx"]["steady_env_steps_per_s"]
    print(f"MuJoCo C / MJX (the reference): {ratio:.2f}x steady env steps/s")
    import jax

    preset = args.preset or ("gpu" if jax.default_backend() == "gpu" else "cpu")
    env_cfg, ppo_cfg = get_preset(args.robot, preset)
    rec = _record.record(
        f"benchmark_training_backends_{args.robot}_{preset}",
        {**figures, "ratio_mujoco_over_mjx": ratio},
        benchmark="training_backends",
        robot=args.robot,
        preset=preset,
        epochs=args.epochs,
        env_config=to_dict(env_cfg),
        ppo_config=to_dict(cut_to_epochs(ppo_cfg, args.epochs)),
        jax_compilation_cache=os.environ.get("MJX_WALKER_JAX_CACHE"),
    )
    print(f"recorded in {_record.write(rec, args.out)}")
    return rec


if __name__ == "__main__":
    main()
