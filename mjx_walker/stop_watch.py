"""Ctrl-C and SIGTERM stop the training command within a second, the first time, every time.

Python runs signal handlers in the main thread between bytecodes. While that thread waits inside
one compiled XLA call (an epoch, or a compile: minutes on a CPU) a handler cannot run, and a
``KeyboardInterrupt`` that lands in a finalizer is printed as "Exception ignored" and lost.
So the command blocks SIGINT and SIGTERM in every thread (:func:`install`, before JAX starts its
threads, which inherit the mask) and one daemon thread takes them with ``sigwait``: it prints the
line saying what was kept and how to continue, then ends the process at once.

Nothing is lost that a kill would not lose: checkpoints are written to a temporary directory
and renamed when complete, metrics lines are appended whole (a torn line is dropped on resume),
and the run directory's lock is released by the kernel. So training loses at most the epoch it
was in.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

STOP = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Watch:
    """What the watcher says when a stop signal comes: ``describe(signum)``, set once the run is known."""

    describe: Callable[[int], str] | None = None

    def line(self, signum: int) -> str:
        """The line for ``signum``: the run's own, or that nothing started yet."""
        if self.describe is not None:
            return self.describe(signum)
        return f"{signal.Signals(signum).name}: stopped before training started; nothing was written"


def _wait(watch: Watch) -> None:
    """Block until a stop signal; write the watch's line to stderr; exit with 128 + signum."""
    signum = signal.sigwait(STOP)
    try:
        sys.stderr.write(f"\n{watch.line(signum)}\n")
        sys.stderr.flush()
    finally:
        os._exit(128 + int(signum))


def install() -> Watch:
    """Route SIGINT and SIGTERM to a watcher thread that prints the returned watch's line and exits.

    Call it first thing in the command's process, before any other thread exists: the mask is
    inherited, so a thread started earlier could still receive the signal and miss the watcher.
    """
    watch = Watch()
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP)
    threading.Thread(target=_wait, args=(watch,), name="mjx_walker-stop-watch", daemon=True).start()
    return watch
