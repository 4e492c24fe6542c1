"""The GPU-machine command on this CPU, with the GPU machine's own software: run by gpu_standin.sh.

    bash experiments/gpu_standin.sh [--calls 4] [--keep] [--cache DIR] [gpu_run.sh arguments, e.g. --budget-s 1500]

gpu_standin.sh builds (once, then reuses) a Python 3.12 virtual environment holding what the remote
GPU machine has preinstalled -- jax/jaxlib 0.11.2 (CPU here), numpy 2.5.2, onnx 1.23.1,
onnxruntime 1.30.0, flax, optax, orbax-checkpoint, ... -- and no mujoco, brax or jax2onnx, then
runs this script with it. This script makes the remote calls as a remote job runner would, each as on
a fresh machine:

* ``bash experiments/gpu_run.sh --size tiny --out <tmp>/gpu_out`` with ``PYTHON`` = that venv's
  python, ``$OUT`` set, a fresh folder for the carried wheels (gpu_run.sh installs ``.whl/`` there
  with ``pip --no-index``), no PYTHONPATH, no pip find-links, the robot XML from ``.gpu-assets/``,
  and, where ``unshare -n`` works, no network at all;
* between calls, the bundle the call left in ``$OUT`` is unpacked (``gpu_run.py unpack``) into the
  ``gpu_out`` the next call gets, as carrying ``gpu_out`` does; the compile cache is kept between
  calls (a device that is still warm);
* until training has its first checkpoint, calls get ``--train-limit-s 1``, so training pauses
  after its first epoch and a later call must resume it from the carried checkpoint (``--no-pause``
  lets training run to the end in one call if it fits);

until gpu_run prints "all stages done", two calls in a row make no progress (the first call on a
slow CPU may spend its budget compiling into the cache), or ``--calls`` calls were made. Each
call runs under gpu_run's default 540 s budget unless ``--budget-s`` is given; the device stops a
command at 600 s, so a call may overrun its budget by at most 60 s (installing the wheels, packing
the bundle). It passes when every stage (train, export, evaluate, bench_runner, bench_env) is
done, every call exited 0 within its budget plus 60 s, the bundle fits in the 16 MiB that comes
back, what would be carried (the working tree, ``.whl``, ``.gpu-assets``, ``gpu_out``) fits in
64 MiB, and the records the stages wrote name jax 0.11.2 and Python 3.12. It prints PASS or FAIL
and records the outcome (device, versions, date, command, per call and per stage the outcome and
seconds) in ``experiments/results/gpu_standin_<device>_<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("train", "export", "evaluate", "bench_runner", "bench_env")
DEVICE_CALL_LIMIT_S = 600  # the remote job runner stops a command after 10 minutes
DEFAULT_BUDGET_S = 540.0  # gpu_run's --budget-s default: 60 s left for the wheels and the bundle
CARRY_LIMIT_BYTES = 64 * 2**20  # what travels to the device: the working tree plus carried paths
BUNDLE_LIMIT_BYTES = 16 * 2**20  # what comes back: files of at most 16 MiB
# What the device image has preinstalled, at the versions the stand-in's venv must hold.
EXPECTED = {"jax": "0.11.2", "jaxlib": "0.11.2", "numpy": "2.5.2", "onnx": "1.23.1", "onnxruntime": "1.30.0"}
# Dropped from the calls' environment: the device has none of them.
DROP_ENV = ("PYTHONPATH", "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "MJX_WALKER_ASSETS")
DROP_ENV += ("JAX_COMPILATION_CACHE_DIR", "XLA_FLAGS", "JAX_PLATFORMS", "VIRTUAL_ENV", "PYTHONHOME")


def tree_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (0 if absent)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def carried_bytes(gpu_out: Path) -> dict[str, int]:
    """What the remote job runner would carry: tracked and unignored files, .whl, .gpu-assets, gpu_out."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    files = [ROOT / os.fsdecode(name) for name in listed if name]
    tree = sum(f.stat().st_size for f in files if f.is_file())
    sizes = {"working_tree": tree, ".whl": tree_bytes(ROOT / ".whl"), ".gpu-assets": tree_bytes(ROOT / ".gpu-assets")}
    sizes["gpu_out"] = tree_bytes(gpu_out)
    sizes["total"] = sum(sizes.values())
    return sizes


def offline_prefix() -> list[str]:
    """``unshare -n`` (a network namespace with no network, as on the device) where it works."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


def progress(gpu_out: Path) -> dict[str, Any]:
    """Stages done, training env steps and finished benchmark sizes: what a call can advance."""
    status_file = gpu_out / "status.json"
    status = json.loads(status_file.read_text()) if status_file.exists() else {"stages": {}}
    steps = 0
    metrics = gpu_out / "run" / "metrics.jsonl"
    if metrics.exists():
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        steps = rows[-1]["env_steps"] if rows else 0
    parts = sorted(p.parent.name for p in (gpu_out / "bench_env_parts").glob("*/benchmark_env_*.json"))
    done = sorted(s for s, st in status.get("stages", {}).items() if st.get("done"))
    return {"stages_done": done, "train_env_steps": steps, "bench_env_sizes_done": parts}


def budget_s(extra: list[str]) -> float:
    """The --budget-s given to gpu_run (its default if none)."""
    for i, arg in enumerate(extra):
        if arg.startswith("--budget-s="):
            return float(arg.split("=", 1)[1])
        if arg == "--budget-s" and i + 1 < len(extra):
            return float(extra[i + 1])
    return DEFAULT_BUDGET_S


def call(
    work: Path, k: int, gpu_out: Path, py: str, prefix: list[str], cache: Path, extra: list[str], pause: bool
) -> dict[str, Any]:
    """Device call ``k``: gpu_run.sh on a fresh 'machine', output teed to ``work/call<k>.log``."""
    bring_back = work / f"OUT{k}"
    bring_back.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in DROP_ENV}
    env.update(
        PYTHON=py,
        OUT=str(bring_back),
        GPU_RUN_SITE=str(work / f"site{k}"),  # empty: the wheels are installed afresh, as on a new machine
        MJX_WALKER_JAX_CACHE=str(cache),
        PIP_NO_INDEX="1",
        PIP_CONFIG_FILE=os.devnull,
    )
    cmd = [*prefix, "bash", "experiments/gpu_run.sh", "--size", "tiny", "--out", str(gpu_out), *extra]
    cmd += ["--train-limit-s", "1"] if pause else []
    print(f"\n=== device call {k}: {' '.join(cmd)}", flush=True)
    t0 = time.monotonic()
    lines = []
    with (work / f"call{k}.log").open("w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
            lines.append(line)
        rc = proc.wait()
    seconds = time.monotonic() - t0
    bundle = bring_back / "gpu_out.tar.gz"
    return {
        "call": k,
        "args": cmd[cmd.index("--size") :],
        "rc": rc,
        "seconds": round(seconds, 1),
        "within_budget_plus_60_s": seconds <= budget_s(extra) + DEVICE_CALL_LIMIT_S - DEFAULT_BUDGET_S,
        "bundle_bytes": bundle.stat().st_size if bundle.exists() else None,
        "all_stages_done": any("all stages done" in line for line in lines),
        "bundle": str(bundle),
        **progress(gpu_out),
    }


def versions_seen(gpu_out: Path) -> dict[str, dict[str, str]]:
    """The versions each record written by the stages names (they ran in the device's software)."""
    seen = {}
    for path in sorted((gpu_out / "results").glob("*.json")):
        seen[json.loads(path.read_text())["name"]] = json.loads(path.read_text())["versions"]
    return seen


def main(argv: list[str] | None = None) -> int:
    """Make the remote calls, check them, print PASS/FAIL and write the record."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=4, help="most remote calls to make (default 4)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (default: removed on PASS)")
    parser.add_argument("--out", default=None, help="results folder (default experiments/results)")
    parser.add_argument("--cache", default=None, help="JAX compile cache to use (default: a fresh one)")
    parser.add_argument("--no-pause", action="store_true", help="do not pause training after its first epoch")
    args, extra = parser.parse_known_args(argv)
    py = sys.executable
    work = Path(tempfile.mkdtemp(prefix="gpu_standin_"))
    gpu_out, cache = work / "gpu_out", Path(args.cache).resolve() if args.cache else work / "jax_cache"
    prefix = offline_prefix()
    print(f"stand-in: {py} (Python {platform.python_version()}), work folder {work}, offline: {bool(prefix)}")
    t0 = time.monotonic()
    calls: list[dict[str, Any]] = []
    idle = 0  # calls in a row without progress
    for k in range(1, args.calls + 1):
        if k > 1:  # carry gpu_out: the bundle the last call brought back, unpacked here
            unpack = [py, "experiments/gpu_run.py", "unpack", calls[-1]["bundle"], "--out", str(gpu_out)]
            subprocess.run(unpack, cwd=ROOT, check=True)
        before = progress(gpu_out)
        pause = not args.no_pause and before["train_env_steps"] == 0
        calls.append(call(work, k, gpu_out, py, prefix, cache, extra, pause))
        last = calls[-1]
        if last["rc"] != 0 or last["all_stages_done"]:
            break
        idle = idle + 1 if all(last[key] == before[key] for key in before) else 0
        if idle == 2:
            print(f"calls {k - 1} and {k} made no progress: stopping", flush=True)
            break

    # What the stages ran with: the site folder of the first call holds the carried wheels.
    sys.path[:0] = [str(work / "site1"), str(ROOT), str(ROOT / "experiments")]
    import _record

    status = json.loads((gpu_out / "status.json").read_text()) if (gpu_out / "status.json").exists() else {}
    stages = {s: status.get("stages", {}).get(s, {"done": False, "tries": 0}) for s in STAGES}
    seen = versions_seen(gpu_out)
    carry = carried_bytes(gpu_out)
    # paused: a call ended with training part done; resumed, not restarted: no env step twice
    paused = any(c["train_env_steps"] and "train" not in c["stages_done"] for c in calls)
    metrics = gpu_out / "run" / "metrics.jsonl"
    rows = metrics.read_text().splitlines() if metrics.exists() else []
    steps = [json.loads(line)["env_steps"] for line in rows if line.strip()]
    resumed = paused and bool(stages["train"].get("done")) and steps == sorted(set(steps))
    checks = {
        "every_stage_done": all(st.get("done") for st in stages.values()),
        "training_paused_and_resumed": args.no_pause or resumed,
        "every_call_exit_0": all(c["rc"] == 0 for c in calls),
        "every_call_within_budget_plus_60_s": all(c["within_budget_plus_60_s"] for c in calls),
        "bundle_within_16_mib": all((c["bundle_bytes"] or 0) <= BUNDLE_LIMIT_BYTES for c in calls),
        "carry_within_64_mib": carry["total"] <= CARRY_LIMIT_BYTES,
        "stages_ran_python_3_12": bool(seen) and all(v.get("python", "").startswith("3.12.") for v in seen.values()),
        "stages_ran_device_versions": bool(seen)
        and all(v.get(name) == want for v in seen.values() for name, want in EXPECTED.items() if name in v),
    }
    passed = all(checks.values())
    training = next((json.loads(p.read_text()) for p in (gpu_out / "results").glob("gpu_run_training_*.json")), None)
    results = {
        "passed": passed,
        "checks": checks,
        "stages": stages,
        "calls": [{k: v for k, v in c.items() if k != "bundle"} for c in calls],
        "total_s": round(time.monotonic() - t0, 1),
        "training_env_steps_per_eval": steps,
        "offline": bool(prefix),
        "compile_cache": "fresh" if args.cache is None else f"given: {cache}",
        "gpu_run_args": ["--size", "tiny", *extra],
        "carried_bytes": carry,
        "versions_in_stage_records": seen,
        "training": None
        if training is None
        else {k: training["results"][k] for k in ("total_env_steps", "wall_s_to_end", "steady_env_steps_per_s")},
    }
    rec = _record.record("gpu_standin", results, venv=str(Path(py).parent.parent), expected_versions=EXPECTED)
    rec["command"] = " ".join(["bash", "experiments/gpu_standin.sh", *(argv if argv is not None else sys.argv[1:])])
    path = _record.write(rec, args.out)
    print("\n| stage | done | tries | seconds |\n|---|---|---:|---:|")
    for name, st in stages.items():
        print(f"| {name} | {st.get('done')} | {st.get('tries', 0)} | {st.get('seconds', 0)} |")
    for c in calls:
        print(f"call {c['call']}: rc {c['rc']}, {c['seconds']:.0f} s, stages done {c['stages_done']}")
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    print(f"recorded in {path}")
    if passed and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"work folder kept: {work}")
    print("PASS: every stage of the GPU command ran on the GPU machine's software" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
