"""The GPU-machine command at its tiny size on CPU: training pauses at a checkpoint and resumes.

``experiments/gpu_run.sh --size tiny`` runs every stage of the GPU run (training with the
``test`` preset, export, sim-to-sim evaluation, runner and env benchmarks) exactly as on the
device, with $OUT set as a remote job runner sets it. The first call is given a 1-second training
limit, so training must stop cleanly after its first checkpoint; the second call must resume it to
the end and finish every other stage; the bundle must unpack into the same folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from mjx_walker import checkpointing as ck

ROOT = Path(__file__).resolve().parent.parent


def _gpu_run(out: Path, bring_back: Path, *extra: str) -> subprocess.CompletedProcess:
    """One call of experiments/gpu_run.sh --size tiny, as a remote GPU job would make it."""
    cache = str(jax.config.jax_compilation_cache_dir)
    env = {**os.environ, "OUT": str(bring_back), "MJX_WALKER_JAX_CACHE": cache, "PYTHON": sys.executable}
    cmd = ["bash", "experiments/gpu_run.sh", "--size", "tiny", "--out", str(out), "--set", "ppo.seed=3", *extra]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _metrics_steps(run: Path) -> list[int]:
    """env_steps of every metrics.jsonl row."""
    return [json.loads(line)["env_steps"] for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_gpu_run_tiny_pauses_resumes_and_finishes_every_stage(tmp_path):
    out, back = tmp_path / "gpu_out", tmp_path / "OUT"
    back.mkdir()
    first = _gpu_run(out, back, "--train-limit-s", "1", "--stages", "train", "export")
    status = json.loads((out / "status.json").read_text())
    assert status["stages"]["train"]["done"] is False and status["stages"]["train"]["tries"] == 1
    assert "export" not in status["stages"] or not status["stages"]["export"]["done"]
    assert _metrics_steps(out / "run") == [0, 20480]  # paused after the first of two epochs
    assert json.loads((out / "run" / "config.json").read_text())["ppo"]["seed"] == 3  # --set reached training
    assert not (out / "run" / "policy").exists()
    assert "paused: time limit" in first.stdout + first.stderr
    assert "run the same command again" in first.stdout

    second = _gpu_run(out, back)
    assert "all stages done" in second.stdout
    status = json.loads((out / "status.json").read_text())
    assert all(status["stages"][s]["done"] for s in ("train", "export", "evaluate", "bench_runner", "bench_env"))
    assert _metrics_steps(out / "run") == [0, 20480, 40960]  # resumed, not restarted
    assert (out / "policy.onnx").stat().st_size > 0
    for shift in ("1", "2"):
        report = json.loads((out / f"eval_shift{shift}" / "report.json").read_text())
        # one episode per lag condition (the test preset trains without lag: one condition)
        assert report["overall"]["episodes"] == len(report["conditions"]) >= 1 and report["shift"] == float(shift)
    names = {json.loads(p.read_text())["name"] for p in (out / "results").glob("*.json")}
    robot = "berkeley_humanoid"
    assert {f"gpu_run_training_{robot}", f"benchmark_env_{robot}", f"benchmark_runner_{robot}"} <= names
    training = json.loads(next((out / "results").glob("gpu_run_training_*.json")).read_text())
    assert training["results"]["total_env_steps"] == 40960 and training["device"]["backend"] == "cpu"

    # what comes back: one bundle (no compile cache, newest checkpoint only) that unpacks to the same state
    assert sorted(p.name for p in back.iterdir()) == ["gpu_out.tar.gz", "status.json", "summary.md"]
    restored = tmp_path / "restored"
    subprocess.run(
        [sys.executable, "experiments/gpu_run.py", "unpack", str(back / "gpu_out.tar.gz"), "--out", str(restored)],
        cwd=ROOT,
        check=True,
    )
    assert json.loads((restored / "status.json").read_text())["finished"] is True
    assert not (restored / "jax_cache").exists()
    assert ck.complete_steps(restored / "run" / "checkpoints") == [40960]
    assert ck.complete_steps(out / "run" / "checkpoints") == [20480, 40960]
    assert (restored / "policy.onnx").read_bytes() == (out / "policy.onnx").read_bytes()


def _gpu_run_module():
    sys.path.insert(0, str(ROOT / "experiments"))
    import gpu_run

    return gpu_run


def test_stages_get_jax_default_gpu_memory_while_gpu_run_itself_preallocates_none(monkeypatch):
    # gpu_run asks JAX for the device's name; with JAX's default it would hold 75 % of the GPU
    # while each stage's process asks for 75 % more.
    gpu_run = _gpu_run_module()
    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE", raising=False)
    monkeypatch.setattr(gpu_run, "_env_before", {})
    gpu_run.set_parent_env()
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert "XLA_PYTHON_CLIENT_PREALLOCATE" not in gpu_run.child_env()
    monkeypatch.setattr(gpu_run, "_env_before", {"XLA_PYTHON_CLIENT_PREALLOCATE": "true"})
    assert gpu_run.child_env()["XLA_PYTHON_CLIENT_PREALLOCATE"] == "true"  # a user's own setting passes on


def test_bench_env_records_of_one_size_each_merge_into_one():
    gpu_run = _gpu_run_module()
    ref = {"physics_steps_per_s_all_cores": 100.0, "physics_steps_per_s_1_thread": 50.0}

    def part(n: int, rate: float) -> dict:
        row = {"num_envs": n, "physics_steps_per_s": rate, "x_mujoco_c_all_cores": 0.0, "x_mujoco_c_1_thread": 0.0}
        return {"name": "benchmark_env_r", "date": f"d{n}", "command": f"python b.py --envs {n}",
                "settings": {"steps": 5}, "results": {"mujoco_c": ref, "mjx": [row]}}  # fmt: skip

    merged = gpu_run.merge_bench_env([part(4, 200.0), part(8, 400.0)])
    assert [r["num_envs"] for r in merged["results"]["mjx"]] == [4, 8]
    assert [r["x_mujoco_c_all_cores"] for r in merged["results"]["mjx"]] == [2.0, 4.0]
    assert [r["x_mujoco_c_1_thread"] for r in merged["results"]["mjx"]] == [4.0, 8.0]
    assert merged["date"] == "d8" and merged["command"] == "python b.py --envs 4; python b.py --envs 8"
    assert merged["settings"] == {"steps": 5, "one_process_per_num_envs": True}


def test_bench_env_sizes_measured_on_another_device_are_measured_again(tmp_path):
    gpu_run = _gpu_run_module()
    for n, kind in ((4, "cpu"), (8, "NVIDIA H200")):
        folder = tmp_path / "bench_env_parts" / str(n)
        folder.mkdir(parents=True)
        (folder / "benchmark_env_r_x.json").write_text(json.dumps({"device": {"device_kind": kind}}))
    assert gpu_run.drop_bench_env_parts_of_other_devices(tmp_path, "cpu") == [8]
    assert gpu_run.bench_env_part(tmp_path, 4) is not None and gpu_run.bench_env_part(tmp_path, 8) is None


def test_a_staged_run_is_resumed_counted_and_bundled_stage_by_stage(tmp_path):
    """The gpu preset trains in two stages: progress sums them, and each stage keeps its newest checkpoint."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "experiments"))
    import gpu_run

    run = tmp_path / "out" / "run"
    stages = [{"name": "main", "ppo": {"num_timesteps": 200}}, {"name": "finish", "ppo": {"num_timesteps": 100}}]
    run.mkdir(parents=True)
    (run / "stages.json").write_text(json.dumps({"stages": stages}))
    assert gpu_run.started(run) and gpu_run.training_state(run) == {"env_steps": 0, "total": 300, "complete": False}
    for name, steps in (("main", (100, 200)), ("finish", (50,))):
        (run / name).mkdir()
        rows = [{"env_steps": s} for s in steps]
        (run / name / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        for s in steps:
            (run / name / "checkpoints" / f"{s:012d}").mkdir(parents=True)
    assert gpu_run.training_state(run) == {"env_steps": 250, "total": 300, "complete": False}
    (tmp_path / "dest").mkdir()
    for name in ("status.json", "summary.md"):
        (tmp_path / "out" / name).write_text("{}")
    bundle = gpu_run.bundle(tmp_path / "out", tmp_path / "dest")
    import tarfile

    names = tarfile.open(bundle).getnames()
    assert any(n.endswith("main/checkpoints/000000000200") for n in names)
    assert not any(n.endswith("main/checkpoints/000000000100") for n in names)
    assert any(n.endswith("finish/checkpoints/000000000050") for n in names)
