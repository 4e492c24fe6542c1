"""A watchdog outside the control loop: damp the motors when the loop stops sending commands.

The loop reports every command it sends (:meth:`Watchdog.fed`). A thread of its own, on the wall
clock, calls ``damp`` once no command has been sent for ``timeout_s`` seconds, and again every
``timeout_s`` while none comes, whatever the loop is stuck in: a ``read_state`` or ``write_targets``
that does not return, a stalled policy call, a slow observer. The loop, once it runs again, sees
:attr:`Watchdog.fired`, latches damping and does not send the target it was working on.

It runs only on a real-time clock (:attr:`mjx_walker.runner.backend.Clock.realtime`): on simulated
time the robot waits for the process, so a stalled process is no danger to it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Watchdog:
    """Calls ``damp()`` from its own thread when :meth:`fed` was not called for ``timeout_s`` wall seconds."""

    def __init__(self, damp: Callable[[], None], timeout_s: float) -> None:
        """``damp``: the safe stop (thread-safe in the backend); ``timeout_s`` > 0 seconds."""
        self._damp = damp
        self.timeout_s = float(timeout_s)
        self._last = time.monotonic()  # when the last command was sent, monotonic s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="mjx_walker-watchdog", daemon=True)
        self.fired = False
        self.reason = ""
        self.damps = 0  # damp calls made by the watchdog
        self.errors: list[str] = []  # what its damp calls raised

    def start(self) -> None:
        """Start watching, counting from now."""
        self.fed()
        self._thread.start()

    def fed(self) -> None:
        """A command (targets or damping) has just been sent."""
        self._last = time.monotonic()

    def stop(self) -> None:
        """Stop the thread (waits briefly: a damp call stuck in the backend is left to finish alone)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)

    def _watch(self) -> None:
        """Sleep until the command deadline; damp whenever it passed without a command."""
        last_damp = -float("inf")
        while not self._stop.is_set():
            now = time.monotonic()
            deadline = max(self._last, last_damp) + self.timeout_s
            if now >= deadline:
                if not self.fired:  # the first time tells why
                    idle = now - self._last
                    self.reason = (
                        f"watchdog: no command sent for {idle * 1e3:.0f} ms (timeout {self.timeout_s * 1e3:.0f} ms)"
                    )
                self.fired = True
                last_damp = now
                self._call_damp()
                continue
            if self._stop.wait(deadline - now):
                return

    def _call_damp(self) -> None:
        """Damp; a failure is recorded (the next deadline tries again) rather than ending the thread."""
        try:
            self._damp()
            self.damps += 1
        except Exception as err:
            self.errors.append(f"{type(err).__name__}: {err}")
