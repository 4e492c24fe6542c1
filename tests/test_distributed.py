"""Several training processes (jax.distributed): launch checks, and 2 processes on localhost end to end.

The end-to-end test runs the documented two launch lines (read from docs/training.md, with a free port and
a temporary run directory) on the ``test`` preset, kills process 0 after its first checkpoint,
checks that process 1 stops by itself with JAX's message, resumes both, and checks the result
against the single-process run of tests/test_train_slow.py: same env steps, same learning.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mjx_walker import checkpointing as ck
from mjx_walker import distributed
from mjx_walker import run_dir as rd
from mjx_walker.configs import ConfigError
from mjx_walker.host_devices import choose_host_devices, is_safe
from mjx_walker.ppo_config import PPOConfig

REPO = Path(__file__).resolve().parent.parent
TRAINED_MIN = 60.0  # as tests/test_train_slow.py: the single-process run reaches 100 of 100
HEARTBEAT_S = 20  # the launched processes notice a dead peer within this (60 s by default)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("localhost:1234", 2, None), "--coordinator, --num-processes needs --process-id too"),
        (("localhost", 2, 0), "--coordinator = 'localhost' is invalid: expected HOST:PORT"),
        (("localhost:99999", 2, 0), "port in 1..65535"),
        (("localhost:1234", 0, 0), "--num-processes = 0 is invalid: expected an integer >= 1"),
        (("localhost:1234", 2, 2), r"--process-id = 2 is invalid: expected an integer in \[0, 1\]"),
    ],
)
def test_a_bad_launch_is_refused_naming_the_option(args, words):
    with pytest.raises(ConfigError, match=words):
        distributed.parse_launch(*args)


@pytest.mark.parametrize("value", ["", "ten", "4", "-30", "1.5"])
def test_a_bad_heartbeat_timeout_is_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv(distributed.HEARTBEAT_ENV, value)
    with pytest.raises(ConfigError, match=rf"MJX_WALKER_HEARTBEAT_TIMEOUT_S = '{value}' is invalid: expected whole"):
        distributed.parse_launch("localhost:1234", 2, 0)
    monkeypatch.setenv(distributed.HEARTBEAT_ENV, "30")
    assert distributed.heartbeat_timeout_s() == 30


def test_launch_forms():
    assert distributed.parse_launch(None, None, None) is None
    launch = distributed.parse_launch("node7:1234", 4, 3)
    assert launch == distributed.Launch("node7:1234", 4, 3) and launch.several
    assert distributed.parse_launch(None, None, None, auto=True).several
    with pytest.raises(ConfigError, match="--distributed detects .* not go with --process-id"):
        distributed.parse_launch(None, None, 1, auto=True)


def test_divisibility_error_names_processes_and_devices():
    ppo = PPOConfig(num_envs=18, batch_size=18, num_minibatches=4)
    with pytest.raises(
        ConfigError, match=r"num_envs = 18 .*multiple of the device count 4 \(2 processes x 2 devices\)"
    ):
        ppo.check_devices(4, processes=2)


def test_host_devices_split_the_batch_over_processes():
    ppo = PPOConfig(num_envs=128, batch_size=128, num_minibatches=4)
    assert choose_host_devices(ppo, cores=2) == 1  # one process: 64 per device would hang
    assert choose_host_devices(ppo, cores=2, processes=2) == 2  # 2 x 2 devices: 32 envs each
    assert is_safe(PPOConfig(num_envs=256, batch_size=256, num_minibatches=4), devices=2, processes=2)  # 1 each


def test_one_process_shares_its_start_unchanged():
    restore = (1, 2)
    assert distributed.share_start(3, restore, lambda: pytest.fail("no template needed")) == (3, restore)


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--coordinator", "localhost:1", "--num-processes", "2", "--process-id", "0"], "need --out RUN_DIR"),
        (
            [
                "--out",
                "x",
                "--time-limit",
                "60",
                "--coordinator",
                "localhost:1",
                "--num-processes",
                "2",
                "--process-id",
                "1",
            ],
            "--time-limit 60 is not supported with several processes",
        ),
        (["--distributed", "--process-id", "1", "--out", "x"], "--distributed detects"),
    ],
)
def test_cli_refuses_a_bad_launch_before_jax(monkeypatch, capsys, flags, words):
    from mjx_walker import training

    monkeypatch.setattr(training, "_setup_jax", lambda *a, **k: pytest.fail("JAX set up before the check"))
    with pytest.raises(SystemExit) as exit_:
        training.main(["--preset", "test", *flags])
    assert exit_.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and words in err[0], err


def readme_launch_lines() -> list[list[str]]:
    """The documented two local launch lines (process 0 first), as argument lists after ``python``."""
    text = (REPO / "docs" / "training.md").read_text()
    lines = [ln.strip() for ln in text.splitlines() if "--num-processes 2 --process-id" in ln]
    lines = [ln for ln in lines if ln.startswith("python -m mjx_walker.train") and "localhost:" in ln]
    assert len(lines) == 2, lines
    return [shlex.split(ln)[1:] for ln in sorted(lines, key=lambda ln: ln.rsplit(" ", 1)[-1])]


def _free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _launch(args: list[str], port: int, run: Path, audit: Path | None = None) -> subprocess.Popen:
    """Start one process of the documented launch with this port and run directory."""
    args = [a.replace("localhost:12355", f"localhost:{port}") for a in args]
    args = [str(run) if a == "runs/two" else a for a in args] + ["--no-progress"]
    assert args[:2] == ["-m", "mjx_walker.train"], args
    if audit is not None:  # the same command, with every write into the run directory logged
        args = [str(REPO / "tests" / "_audit_writes.py"), str(run), str(audit), *args]
    import jax

    env = dict(os.environ, MJX_WALKER_JAX_CACHE=str(jax.config.jax_compilation_cache_dir))
    env[distributed.HEARTBEAT_ENV] = str(HEARTBEAT_S)
    env.pop("XLA_FLAGS", None)
    return subprocess.Popen(
        [sys.executable, *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _finish(procs: list[subprocess.Popen], timeout: float) -> list[str]:
    """Wait for every process; their outputs."""
    outs = []
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        outs.append(out)
    return outs


def test_several_cpu_processes_are_refused_where_xla_crashes_on_them():
    distributed.check_cpu_processes("cpu", 2, "0.10.2")
    distributed.check_cpu_processes("gpu", 2, "0.11.2")  # untested there, not refused
    distributed.check_cpu_processes("cpu", 1, "0.11.2")
    with pytest.raises(ConfigError, match=r"2 processes on CPU are not supported on jax 0.11.2: .*Allowed: jax 0.10"):
        distributed.check_cpu_processes("cpu", 2, "0.11.2")


JAX_MINOR = tuple(int(x) for x in importlib.metadata.version("jax").split(".")[:2])


@pytest.mark.slow
@pytest.mark.skipif(JAX_MINOR >= (0, 11), reason="jax 0.11: XLA segfaults on several CPU processes (refused)")
def test_two_processes_train_resume_after_a_kill_and_only_process_0_writes(tmp_path):
    lines = readme_launch_lines()
    assert [line[line.index("--process-id") + 1] for line in lines] == ["0", "1"]
    run, audit = tmp_path / "two", tmp_path / "process1_writes.log"

    # Start both; kill process 0 (the writer and coordinator) during its second epoch.
    port = _free_port()
    procs = [_launch(lines[0], port, run), _launch(lines[1], port, run, audit)]
    # With a cold compile cache on 2 cores (CI) the first checkpoint came after 10 minutes: the step-0
    # eval at 332 s, the 2-process epoch compiled by 466 s, then the first epoch on 2 processes.
    deadline = time.monotonic() + 1200
    try:
        while not ck.complete_steps(run / rd.CHECKPOINTS):
            assert all(p.poll() is None for p in procs), [p.communicate()[0][-3000:] for p in procs]
            assert time.monotonic() < deadline, "no checkpoint within 20 minutes"
            time.sleep(0.2)
    finally:
        procs[0].send_signal(signal.SIGKILL)
    start = time.monotonic()
    out0, out1 = _finish(procs, timeout=HEARTBEAT_S + 120)
    stopped_s = time.monotonic() - start
    print(f"process 1 stopped {stopped_s:.1f} s after process 0 was killed")
    assert procs[1].returncode != 0
    assert "process 1 of 2: process 0 writes" in out1
    assert "the JAX distributed service detected fatal errors" in out1, out1[-2000:]
    assert ck.complete_steps(run / rd.CHECKPOINTS) == [20480]
    assert [r["env_steps"] for r in rd.read_metrics(run)] == [0, 20480]

    # The same lines with --resume continue from that checkpoint to the end.
    resume = [[a for a in line if a not in ("--preset", "test")] for line in lines]
    resume = [["--resume" if a == "--out" else a for a in line] for line in resume]
    port = _free_port()
    procs = [_launch(resume[0], port, run), _launch(resume[1], port, run, audit)]
    out0, out1 = _finish(procs, timeout=900)
    assert [p.returncode for p in procs] == [0, 0], (out0[-3000:], out1[-3000:])
    rows = rd.read_metrics(run)
    assert [r["env_steps"] for r in rows] == [0, 20480, 40960]  # the single-process schedule, no duplicates
    assert ck.complete_steps(run / rd.CHECKPOINTS) == [20480, 40960]
    assert rows[-1]["episode_length"] >= TRAINED_MIN, rows[-1]["episode_length"]  # learned to stand
    schedule = json.loads((run / rd.CONFIG_FILE).read_text())["schedule"]
    assert schedule["process_count"] == 2 and schedule["device_count"] == 2 and schedule["total_env_steps"] == 40960
    assert (run / rd.POLICY / "policy.msgpack").is_file()
    writes = audit.read_text() if audit.exists() else ""
    assert writes == "", f"process 1 wrote into the run directory:\n{writes}"
    assert re.search(r"done: 40960 env steps", out0), out0[-2000:]


def test_the_write_audit_sees_writes(tmp_path):
    """The audit wrapper used above logs a write into the watched directory (so silence means none)."""
    watched, log = tmp_path / "watched", tmp_path / "log"
    watched.mkdir()
    (tmp_path / "in.json").write_text("[1]")
    cmd = [sys.executable, str(REPO / "tests" / "_audit_writes.py"), str(watched), str(log), "-m", "json.tool"]
    subprocess.run([*cmd, str(tmp_path / "in.json"), str(watched / "out.json")], check=True, timeout=60)
    assert (watched / "out.json").is_file() and "out.json" in log.read_text()
