"""SIGTERM and SIGHUP end a run like Ctrl-C: the motors are damped, the handlers restored, exit 128 + signum.

In-process tests send the signal from inside a scripted backend (simulated clock, no physics);
the CLI tests run ``python -m mjx_walker.run --realtime --duration inf`` in a child process on a
recording backend that logs every call to a file, and signal it once it is writing targets.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from runner_helpers import ZeroPolicy, faulty_backend_class, small_meta

from mjx_walker.runner.loop import run_loop
from mjx_walker.runner.safety import SafetyConfig
from mjx_walker.runner.signals import Terminated, exit_code, stop_signals_interrupt

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "models" / "policies" / "berkeley_humanoid_cpu" / "policy.onnx"
NO_RAMP = SafetyConfig(ramp_duration_s=0.0)
STOP = [signal.SIGTERM, signal.SIGHUP]


def signalling_backend(sig: int, at_read: int | None = None, at_damp: int | None = None) -> object:
    """A FaultyBackend that sends ``sig`` to this process in its read number ``at_read`` or damp ``at_damp``."""
    base = faulty_backend_class()

    class Signalling(base):  # type: ignore[misc, valid-type]
        """Sends the signal from inside a backend call, as a real one could arrive."""

        def read_state(self) -> object:
            """A reading; the signal arrives during read ``at_read``."""
            if self.reads == at_read:
                os.kill(os.getpid(), sig)
            return super().read_state()

        def damp(self, kd: np.ndarray) -> None:
            """Damp; the signal arrives during damp ``at_damp``, which still completes."""
            damps = self.calls.count("damp")
            if damps == at_damp:
                os.kill(os.getpid(), sig)
            super().damp(kd)
            self.calls.append("damp done")

    return Signalling(small_meta())


@pytest.fixture
def recorded_handlers():
    """Custom handlers on SIGTERM/SIGHUP for the test (what the run must restore), and what reached them."""
    seen: list[int] = []
    old = {sig: signal.signal(sig, lambda signum, frame: seen.append(signum)) for sig in STOP}
    try:
        yield seen
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


@pytest.mark.parametrize("sig", STOP, ids=lambda s: signal.Signals(s).name)
def test_stop_signal_in_the_loop_damps_and_restores_the_handlers(recorded_handlers, sig):
    before = {s: signal.getsignal(s) for s in STOP}
    backend = signalling_backend(sig, at_read=4)
    with pytest.raises(Terminated) as info:
        run_loop(backend, ZeroPolicy(backend.meta), backend.meta, np.zeros(3), 1.0, NO_RAMP)
    assert info.value.signum == sig and isinstance(info.value, KeyboardInterrupt)
    assert exit_code(info.value) == 128 + sig
    assert backend.calls[-1] == "damp done", backend.calls[-5:]
    assert "write" in backend.calls and backend.calls.index("write") < len(backend.calls) - 2
    assert {s: signal.getsignal(s) for s in STOP} == before  # the run changed nothing for good
    assert recorded_handlers == []  # the run's own handler took it, not the previous one


def test_a_signal_during_the_final_damp_waits_for_it(recorded_handlers):
    backend = signalling_backend(signal.SIGTERM, at_damp=0)  # the loop's only damp is its last command
    with pytest.raises(Terminated):
        run_loop(backend, ZeroPolicy(backend.meta), backend.meta, np.zeros(3), 0.1, NO_RAMP)
    assert backend.calls[-2:] == ["damp", "damp done"]


def test_an_ignored_signal_stays_ignored(recorded_handlers):
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    backend = signalling_backend(signal.SIGHUP, at_read=3)
    stats = run_loop(backend, ZeroPolicy(backend.meta), backend.meta, np.zeros(3), 0.2, NO_RAMP)
    assert stats.ticks == 10 and stats.final_mode == "policy"
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


def test_handlers_are_not_touched_off_the_main_thread():
    import threading

    seen: list[object] = []

    def body() -> None:
        """Enter and leave the context on a worker thread."""
        with stop_signals_interrupt() as signals:
            seen.append(signal.getsignal(signal.SIGTERM))
            signals.raise_pending()  # nothing pending: no error

    before = signal.getsignal(signal.SIGTERM)
    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    assert seen == [before]


CHILD = """
import sys
import numpy as np
from mjx_walker import run
from mjx_walker.runner import session
from mjx_walker.runner.backend import RobotBackend, RobotState, WallClock

LOG = {log!r}


class Recording(RobotBackend):
    '''Stands in the default pose on the wall clock; appends every call to LOG.'''

    def __init__(self, meta):
        self.meta, self.clock = meta, WallClock()
        self.log = open(LOG, "a", buffering=1)

    def read_state(self):
        pos = np.asarray(self.meta.default_joint_pos, float)
        return RobotState(self.clock.now(), pos, np.zeros_like(pos), np.zeros(3), np.array([0.0, 0.0, -1.0]))

    def write_targets(self, targets, kp, kd):
        self.log.write("write\\n")

    def damp(self, kd):
        self.log.write("damp\\n")


session.make_backend = lambda name, meta, *args, **kwargs: Recording(meta)
sys.exit(run.main([{policy!r}, "--realtime", "--duration", "inf", "--command", "0.3,0,0"]))
"""


def wait_for_writes(log: Path, proc: subprocess.Popen, n: int, timeout_s: float = 60.0) -> None:
    """Return once ``log`` holds ``n`` writes (the loop is running); fail if the child ends or it takes too long."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().count("write") >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended early (rc {proc.returncode}): {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the run never started writing targets")


@pytest.mark.parametrize("sig", STOP, ids=lambda s: signal.Signals(s).name)
def test_cli_damps_on_sigterm_and_sighup(tmp_path, sig):
    log = tmp_path / "calls.log"
    code = CHILD.format(log=str(log), policy=str(SHIPPED))
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: under nohup (a suite started with it) HUP arrives ignored, and stays so
        preexec_fn=lambda: signal.signal(sig, signal.SIG_DFL),
    )
    try:
        wait_for_writes(log, proc, 20)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    name = signal.Signals(sig).name
    assert proc.returncode == 128 + sig, (proc.returncode, err)
    assert err.strip().splitlines() == [f"python -m mjx_walker.run: interrupted by {name}; the motors were left damped"]
    calls = log.read_text().split()
    assert calls[-1] == "damp" and calls.count("write") >= 20
