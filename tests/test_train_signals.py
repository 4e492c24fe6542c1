"""The training command stops on SIGTERM and Ctrl-C the first time, mid-compile, with its --resume line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


def _wait_for(proc: subprocess.Popen, text: str, timeout: float) -> list[str]:
    """stderr lines up to the first one holding ``text``."""
    lines, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} not seen in {lines}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_during_the_compile_ends_the_run_with_its_resume_line(tmp_path, sig):
    run = tmp_path / "run"
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    command = [sys.executable, "-m", "mjx_walker.train", "--preset", "test", "--out", str(run), "--no-progress"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        _wait_for(proc, "run: ", timeout=120)
        time.sleep(2.0)  # inside Brax's set-up and XLA's compile, where a Python handler cannot run
        proc.send_signal(sig)
        rc = proc.wait(timeout=30)
        rest = proc.stderr.read().strip().splitlines()
    finally:
        proc.kill()
    assert rc == 128 + sig
    assert rest[-1] == (
        f"{sig.name}: interrupted before the first checkpoint of {run}: nothing trained was kept; start again "
        f"with python -m mjx_walker.train --resume {run} (its configs are saved), or another --out"
    )
