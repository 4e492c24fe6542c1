"""Everything an offline GPU machine should do, in stages that survive its 10-minute command limit.

    bash experiments/gpu_run.sh [--size full|tiny] [--out gpu_out] [--budget-s 540] [--stages ...]
    python experiments/gpu_run.py unpack <files_at>/gpu_out.tar.gz [--out gpu_out] [--record]

``run`` (through gpu_run.sh, which installs the carried wheels first) does, in order, each stage
not yet done that fits in what is left of ``--budget-s``:

* ``train``: the ``gpu`` preset (``tiny``: the ``test`` preset) with ``python -m mjx_walker.train
  --time-limit``: it stops cleanly at the last checkpoint that fits and the next call resumes it;
  then a training record (wall time to every eval, compile included; steps/s) in results/.
* ``export``: ONNX with its metadata and the JAX parity check.
* ``evaluate``: sim-to-sim in MuJoCo C through the runner, in the training envelope and at 2x.
* ``bench_runner``: ONNX inference latency per provider and control-loop jitter.
* ``bench_env``: MJX env throughput over num_envs (to 16k) against MuJoCo C on all cores, one
  process per num_envs (each compiles its own reset and step), so a stopped call keeps the sizes
  it finished; their records are merged into one when all are done.

State lives in ``<out>/status.json``; every stage writes under ``<out>``. With ``$OUT`` set (by the
remote job runner), ``<out>`` minus older checkpoints is packed into ``$OUT/gpu_out.tar.gz`` (plus
status.json and summary.md beside it) to bring back; ``unpack`` restores it here, and carrying
``gpu_out`` on the next call continues where this one stopped. A stopped stage loses only its
unfinished part: training resumes from its latest complete checkpoint.

JAX's persistent compilation cache (``$MJX_WALKER_JAX_CACHE``, default ``.jax_cache/`` in the
checkout, outside ``<out>`` because carrying ``gpu_out`` replaces that folder on the device) is
used by every stage; it helps a call that finds the device still warm. GPU memory: JAX
preallocates 75 % of it in every process that starts the GPU backend, so this process (which only
asks JAX for the device's name) starts it without preallocation; the stages run one at a time,
each with JAX's default.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import _record

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("train", "export", "evaluate", "bench_runner", "bench_env")
BUNDLE = "gpu_out.tar.gz"
MAX_BUNDLE_BYTES = 16 * 2**20  # the remote job runner brings back files of at most 16 MiB
# Set in this process only, before JAX starts: it needs no GPU memory, the stages need it all.
PARENT_ONLY_ENV = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
_env_before: dict[str, str | None] = {}

SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "preset": "gpu",
        "bench_envs": [1024, 2048, 4096, 8192, 16384],
        "bench_steps": 100,
        "bench_extra": [],
        "eval_episodes": 10,
        "eval_duration": 10.0,
        "runner_seconds": 10.0,
        "runner_calls": 5000,
        "export_rollout_steps": 25,
        # least seconds a stage needs to be worth starting (compile included)
        "min_s": {"train": 150, "export": 90, "evaluate": 150, "bench_runner": 45, "bench_env": 300},
    },
    "tiny": {
        "preset": "test",
        "bench_envs": [4],
        "bench_steps": 5,
        "bench_extra": ["--warmup", "1", "--ref-seconds", "0.5"],
        "eval_episodes": 1,
        "eval_duration": 2.0,
        "runner_seconds": 1.0,
        "runner_calls": 200,
        "export_rollout_steps": 0,  # random observations only: no env compile
        "min_s": {"train": 1, "export": 1, "evaluate": 1, "bench_runner": 1, "bench_env": 1},
    },
}


class Budget:
    """Seconds left of this call's budget."""

    def __init__(self, seconds: float) -> None:
        """Start the clock."""
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left (may be negative)."""
        return self.end - time.monotonic()


def load_status(out: Path) -> dict[str, Any]:
    """The stages' state from ``<out>/status.json`` (empty on a first call)."""
    path = out / "status.json"
    return json.loads(path.read_text()) if path.exists() else {"stages": {}, "calls": []}


def save_status(out: Path, status: dict[str, Any]) -> None:
    """Write ``status.json`` atomically."""
    tmp = out / ".status.json.tmp"
    tmp.write_text(json.dumps(status, indent=2) + "\n")
    os.replace(tmp, out / "status.json")


def set_parent_env() -> None:
    """Give this process PARENT_ONLY_ENV (before JAX starts); :func:`child_env` undoes it for stages."""
    for key, value in PARENT_ONLY_ENV.items():
        _env_before.setdefault(key, os.environ.get(key))
        os.environ[key] = value


def child_env() -> dict[str, str]:
    """The environment of this process as it was before :func:`set_parent_env`, for a stage."""
    env = dict(os.environ)
    for key, value in _env_before.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_cmd(cmd: list[str], log: Path, timeout: float) -> int:
    """Run ``cmd`` from the repo root, output teed to ``log`` and stdout; rc (124 on timeout)."""
    print(f"$ {' '.join(cmd)}", flush=True)
    with log.open("a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            f.write(line)
        rc = proc.wait()
        killed = not timer.is_alive()
        timer.cancel()
        if killed and rc < 0:
            f.write(f"killed after {timeout:.0f} s\n")
            return 124
        return rc


def stage_dirs(run: Path) -> list[Path]:
    """The run directories that train: ``run`` itself, or each stage's of a staged run (``stages.json``)."""
    if (run / "stages.json").exists():
        return [run / st["name"] for st in json.loads((run / "stages.json").read_text())["stages"]]
    return [run]


def started(run: Path) -> bool:
    """Whether a run (plain or staged) was started in ``run``."""
    return (run / "config.json").exists() or (run / "stages.json").exists()


def _rows(run: Path) -> list[dict[str, Any]]:
    """One run directory's metrics rows (none before its first eval)."""
    path = run / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def training_state(run: Path) -> dict[str, Any]:
    """Env steps done / planned over all stages and whether the run finished (final policy written)."""
    if not started(run):
        return {"env_steps": 0, "total": None, "complete": False}
    if (run / "stages.json").exists():
        stages = json.loads((run / "stages.json").read_text())["stages"]
        total = sum(int(st["ppo"]["num_timesteps"]) for st in stages)  # rounded up to epochs by each stage
    else:
        total = json.loads((run / "config.json").read_text())["schedule"]["total_env_steps"]
    done = sum((_rows(d)[-1]["env_steps"] if _rows(d) else 0) for d in stage_dirs(run))
    return {"env_steps": done, "total": total, "complete": done >= total and (run / "policy").is_dir()}


def training_record(run: Path, out: Path, size: str) -> Path:
    """Record the run's timings (wall time to every eval, compile included; steps/s) in results/."""
    config = json.loads((stage_dirs(run)[0] / "config.json").read_text())
    rows = [r for d in stage_dirs(run) for r in _rows(d)]
    steady = [r["steps_per_s"] for r in rows[2:]] or [r["steps_per_s"] for r in rows[1:]]
    results = {
        "total_env_steps": training_state(run)["total"],
        "num_envs": config["ppo"]["num_envs"],
        "wall_s_to_end": rows[-1]["wall_time"],
        "wall_s_to_step0_eval": rows[0]["wall_time"],
        "wall_s_to_first_trained_eval": rows[1]["wall_time"] if len(rows) > 1 else None,
        "steady_env_steps_per_s": sum(steady) / len(steady) if steady else None,
        "final_episode_length": rows[-1]["episode_length"],
        "final_episode_reward": rows[-1]["episode_reward"],
        "evals": [
            {k: r[k] for k in ("env_steps", "wall_time", "steps_per_s", "episode_length", "episode_reward")}
            for r in rows
        ],
        "note": "wall_time is summed over the calls that trained it (each call recompiles; resume restarts Adam)",
    }
    rec = _record.record(f"gpu_run_training_{config['env']['robot']['name']}", results, size=size)
    return _record.write(rec, out / "results")


def stage_train(out: Path, cfg: dict[str, Any], args: argparse.Namespace, budget: Budget) -> bool:
    """Train or resume the preset for what is left of the budget; True once the run is complete."""
    run = out / "run"
    limit = args.train_limit_s or max(budget.left() - 30.0, 1.0)
    if started(run):
        cmd = [sys.executable, "-m", "mjx_walker.train", "--resume", str(run)]
    else:
        cmd = [sys.executable, "-m", "mjx_walker.train", "--robot", args.robot, "--preset", cfg["preset"]]
        cmd += ["--out", str(run)]
    cmd += ["--time-limit", f"{limit:.0f}", "--no-progress", "--host-devices", "1"]
    cmd += [f"--set={item}" for item in args.overrides]  # the same on every call: resume refuses a change
    rc = run_cmd(cmd, out / "logs" / "train.log", timeout=max(budget.left(), 1.0))
    state = training_state(run)
    print(f"training: {state['env_steps']} / {state['total']} env steps (rc {rc})", flush=True)
    if state["env_steps"]:
        training_record(run, out, args.size)
    return state["complete"]


def stage_export(out: Path, cfg: dict[str, Any], args: argparse.Namespace, budget: Budget) -> bool:
    """Export the finished policy to ONNX (with the parity check)."""
    cmd = [sys.executable, "-m", "mjx_walker.export", str(out / "run"), "--out", str(out / "policy.onnx")]
    cmd += ["--rollout-steps", str(cfg["export_rollout_steps"])]
    return run_cmd(cmd, out / "logs" / "export.log", budget.left()) == 0


def stage_evaluate(out: Path, cfg: dict[str, Any], args: argparse.Namespace, budget: Budget) -> bool:
    """Sim-to-sim evaluation in the training envelope (shift 1) and at twice its width."""
    ok = True
    for shift in (1.0, 2.0):
        cmd = [sys.executable, "-m", "mjx_walker.evaluate", str(out / "policy.onnx"), "--out"]
        cmd += [str(out / f"eval_shift{shift:g}"), "--shift", f"{shift:g}", "--episodes", str(cfg["eval_episodes"])]
        cmd += ["--duration", str(cfg["eval_duration"])]
        ok = ok and run_cmd(cmd, out / "logs" / "evaluate.log", budget.left()) == 0
    return ok


def stage_bench_runner(out: Path, cfg: dict[str, Any], args: argparse.Namespace, budget: Budget) -> bool:
    """ONNX inference latency per provider and control-loop jitter."""
    cmd = [sys.executable, "experiments/benchmark_runner.py", "--policy", str(out / "policy.onnx")]
    cmd += ["--seconds", str(cfg["runner_seconds"]), "--calls", str(cfg["runner_calls"]), "--out", str(out / "results")]
    return run_cmd(cmd, out / "logs" / "bench_runner.log", budget.left()) == 0


def bench_env_part(out: Path, num_envs: int) -> Path | None:
    """The record of ``num_envs``'s benchmark_env process, once it finished (written atomically)."""
    return next((out / "bench_env_parts" / str(num_envs)).glob("benchmark_env_*.json"), None)


def drop_bench_env_parts_of_other_devices(out: Path, device_kind: str | None) -> list[int]:
    """Remove finished sizes measured on another device (a later job may run on another kind)."""
    dropped = []
    for path in sorted((out / "bench_env_parts").glob("*/benchmark_env_*.json")):
        if json.loads(path.read_text())["device"].get("device_kind") != device_kind:
            path.unlink()
            dropped.append(int(path.parent.name))
    return dropped


def merge_bench_env(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One benchmark_env record of the per-num_envs ones: the first one's MuJoCo C reference."""
    rec = copy.deepcopy(parts[0])
    ref = rec["results"]["mujoco_c"]
    rows = []
    for part in parts:
        for row in part["results"]["mjx"]:
            rows.append(
                {
                    **row,
                    "x_mujoco_c_all_cores": row["physics_steps_per_s"] / ref["physics_steps_per_s_all_cores"],
                    "x_mujoco_c_1_thread": row["physics_steps_per_s"] / ref["physics_steps_per_s_1_thread"],
                }
            )
    rec["results"]["mjx"] = rows
    rec["results"]["mujoco_c_per_process"] = [part["results"]["mujoco_c"] for part in parts]
    rec["date"] = parts[-1]["date"]
    rec["command"] = "; ".join(part["command"] for part in parts)
    rec["settings"] = {**rec.get("settings", {}), "one_process_per_num_envs": True}
    return rec


def stage_bench_env(out: Path, cfg: dict[str, Any], args: argparse.Namespace, budget: Budget) -> bool:
    """MJX env throughput over num_envs against MuJoCo C on all cores, one process per num_envs."""
    dropped = drop_bench_env_parts_of_other_devices(out, _record.device().get("device_kind"))
    if dropped:
        print(f"benchmark_env: sizes {dropped} were measured on another device; measuring them again", flush=True)
    for n in cfg["bench_envs"]:
        if bench_env_part(out, n) is not None:
            continue  # finished in an earlier call
        cmd = [sys.executable, "experiments/benchmark_env.py", "--robot", args.robot, "--envs", str(n)]
        cmd += ["--steps", str(cfg["bench_steps"]), *cfg["bench_extra"], "--out", str(out / "bench_env_parts" / str(n))]
        if budget.left() <= 0 or run_cmd(cmd, out / "logs" / "bench_env.log", budget.left()) != 0:
            return False
    parts = [json.loads(bench_env_part(out, n).read_text()) for n in cfg["bench_envs"]]  # type: ignore[union-attr]
    path = _record.write(merge_bench_env(parts), out / "results")
    print(f"benchmark_env: {len(parts)} sizes merged into {path}", flush=True)
    return True


RUNNERS = {
    "train": stage_train,
    "export": stage_export,
    "evaluate": stage_evaluate,
    "bench_runner": stage_bench_runner,
    "bench_env": stage_bench_env,
}
NEEDS = {"export": "train", "evaluate": "export", "bench_runner": "export"}


def summary(status: dict[str, Any], out: Path) -> str:
    """A short markdown summary of the stages and the training progress."""
    lines = [f"# gpu_run: {out.name}", ""]
    for name in status["selected"]:
        st = status["stages"].get(name, {})
        lines.append(f"- {name}: {'done' if st.get('done') else 'not done'} (tries {st.get('tries', 0)})")
    t = training_state(out / "run")
    lines.append(f"- training: {t['env_steps']} / {t['total']} env steps, complete {t['complete']}")
    for call in status["calls"]:
        device = f"{call['device'].get('device_kind')} ({call['device'].get('backend')})"
        lines.append(f"- call {call['started']}: {call['seconds']:.0f} s on {device}")
    return "\n".join(lines) + "\n"


def bundle(out: Path, dest: Path) -> Path:
    """Pack ``out`` (no compile cache, only the newest checkpoint) into ``dest/gpu_out.tar.gz``.

    Orbax writes a checkpoint under a temporary name and renames it to its step when complete, so
    the newest step-named folder is a complete one; temporary folders sort first and are left out.
    """
    old = set()
    for run in stage_dirs(out / "run"):
        ckpts = sorted((run / "checkpoints").glob("*"), key=lambda p: int(p.name) if p.name.isdigit() else -1)
        old |= {p.resolve() for p in ckpts[:-1]}

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        """Leave out the compile cache and all but the newest checkpoint."""
        path = (out.parent / info.name).resolve()
        if "jax_cache" in Path(info.name).parts or any(path == o or o in path.parents for o in old):
            return None
        return info

    path = dest / BUNDLE
    with tarfile.open(path, "w:gz") as tar:
        tar.add(out, arcname=out.name, filter=keep)
    if path.stat().st_size > MAX_BUNDLE_BYTES:
        print(f"warning: {path} is {path.stat().st_size / 2**20:.1f} MiB, over what comes back", file=sys.stderr)
    for name in ("status.json", "summary.md"):
        shutil.copy(out / name, dest / name)
    return path


def cmd_run(args: argparse.Namespace) -> int:
    """Run every selected stage not yet done that fits in the budget; pack the folder into $OUT."""
    budget = Budget(args.budget_s)
    cfg = SIZES[args.size]
    out = Path(args.out).resolve()
    (out / "logs").mkdir(parents=True, exist_ok=True)
    (out / "results").mkdir(exist_ok=True)
    set_parent_env()
    cache = os.environ.setdefault("MJX_WALKER_JAX_CACHE", str(ROOT / ".jax_cache"))  # training's cache
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", cache)  # every other stage's (JAX reads it)
    status = load_status(out)
    if status.get("size", args.size) != args.size:
        raise SystemExit(f"error: {out} holds a --size {status['size']} run; use another --out")
    status.update(size=args.size, selected=list(args.stages))
    device = _record.device()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(f"gpu_run {args.size} in {out}: {device.get('device_kind')} ({device.get('backend')}), {args.budget_s} s")
    for name in args.stages:
        st = status["stages"].setdefault(name, {"done": False, "tries": 0})
        if st["done"]:
            continue
        need = NEEDS.get(name)
        if need and not status["stages"].get(need, {}).get("done"):
            print(f"skip {name}: waits for {need}")
            continue
        if budget.left() < cfg["min_s"][name]:
            print(f"stop: {budget.left():.0f} s left, {name} needs about {cfg['min_s'][name]} s; call again")
            break
        st["tries"] += 1
        t0 = time.monotonic()
        st["done"] = bool(RUNNERS[name](out, cfg, args, budget))
        st["seconds"] = round(st.get("seconds", 0.0) + time.monotonic() - t0, 1)
        save_status(out, status)
        print(f"stage {name}: {'done' if st['done'] else 'not done'} in {time.monotonic() - t0:.0f} s", flush=True)
    status["calls"].append({"started": started, "seconds": args.budget_s - budget.left(), "device": device})
    finished = all(status["stages"].get(s, {}).get("done") for s in args.stages)
    status["finished"] = finished
    save_status(out, status)
    (out / "summary.md").write_text(summary(status, out))
    print((out / "summary.md").read_text())
    if os.environ.get("OUT"):
        print(f"packed {bundle(out, Path(os.environ['OUT']))}")
    print(f"everything is in {out} (results/, logs/, run/, status.json, summary.md)")
    print("all stages done" if finished else "not finished: run the same command again (carry gpu_out)")
    return 0


def cmd_unpack(args: argparse.Namespace) -> int:
    """Restore a bundle brought back from the device into ``--out`` (replacing what is there)."""
    out = Path(args.out).resolve()
    with tarfile.open(args.bundle) as tar:
        names = {Path(n).parts[0] for n in tar.getnames()}
        if len(names) != 1:
            raise SystemExit(f"error: {args.bundle} should hold one folder, holds {sorted(names)}")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.parent / f".unpack-{os.getpid()}"
        tar.extractall(tmp, filter="data")
        os.replace(tmp / names.pop(), out)
        tmp.rmdir()
    print(f"unpacked into {out}: {load_status(out).get('stages')}")
    if args.record:
        for path in sorted((out / "results").glob("*.json")):
            shutil.copy(path, _record.RESULTS / path.name)
            print(f"recorded {_record.RESULTS / path.name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI: ``run`` (on the device, via gpu_run.sh) or ``unpack`` (here)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="do the next stages that fit")
    run.add_argument("--size", choices=sorted(SIZES), default="full", help="tiny: a CPU check of every stage")
    run.add_argument("--out", default=str(ROOT / "gpu_out"))
    run.add_argument("--robot", default="berkeley_humanoid")
    run.add_argument("--budget-s", type=float, default=540.0, help="seconds this call may use (device limit: 600)")
    run.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    run.add_argument("--train-limit-s", type=float, default=None, help="training's --time-limit (default: budget)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="training overrides, e.g. --set ppo.num_timesteps=100000000 (give the same on every call)",
    )
    unpack = sub.add_parser("unpack", help="restore a bundle brought back from the device")
    unpack.add_argument("bundle")
    unpack.add_argument("--out", default=str(ROOT / "gpu_out"))
    unpack.add_argument("--record", action="store_true", help="also copy its results/*.json to experiments/results")
    args = parser.parse_args(argv)
    return cmd_run(args) if args.cmd == "run" else cmd_unpack(args)


if __name__ == "__main__":
    sys.exit(main())
