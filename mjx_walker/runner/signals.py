"""SIGTERM and SIGHUP end a run the way Ctrl-C does: the loop damps the motors, then the run ends.

Python turns SIGINT into :class:`KeyboardInterrupt`, which the control loop catches to damp the
motors before it re-raises. SIGTERM (``kill``, systemd, a container stop) and SIGHUP (the
terminal closing) would otherwise end the process at once, leaving the drives holding the last
targets. :func:`stop_signals_interrupt` turns them into :class:`Terminated`, a KeyboardInterrupt,
for as long as the run lasts and then restores the handlers that were there before. A signal
that was ignored before (``nohup`` ignores SIGHUP) stays ignored. While the loop sends its final
``damp`` a stop signal is held back (:meth:`StopSignals.defer`) and raised once that is done, so
it cannot cut the safe stop short.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = ("SIGTERM", "SIGHUP")  # by name: SIGHUP does not exist on Windows


class Terminated(KeyboardInterrupt):
    """A stop signal (SIGTERM, SIGHUP) received during a run; ``signum`` is its number."""

    def __init__(self, signum: int) -> None:
        """Remember the signal's number; its name is the message."""
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """The shell's exit code for a run ended by ``interrupt``: 128 + the signal's number (Ctrl-C: 130)."""
    return 128 + int(getattr(interrupt, "signum", signal.SIGINT))


class StopSignals:
    """What :func:`stop_signals_interrupt` received; ``defer()`` holds a signal back until ``raise_pending()``."""

    def __init__(self) -> None:
        """Nothing received yet; signals raise at once."""
        self.received: int | None = None  # the first stop signal's number
        self.deferred = False
        self._raised = False

    def handler(self, signum: int, frame: FrameType | None) -> None:
        """Raise Terminated for the first signal, unless deferred; later signals are ignored."""
        if self.received is not None:
            return
        self.received = signum
        if not self.deferred:
            self._raised = True
            raise Terminated(signum)

    def defer(self) -> None:
        """From now on a first signal is only recorded (the loop is damping the motors: let it finish)."""
        self.deferred = True

    def raise_pending(self) -> None:
        """Raise Terminated for a signal that arrived while deferred."""
        if self.received is not None and not self._raised:
            self._raised = True
            raise Terminated(self.received)


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[StopSignals]:
    """While active, SIGTERM and SIGHUP raise :class:`Terminated` (once; repeats are ignored).

    Only the main thread can set handlers, and only it receives signals: elsewhere this installs
    nothing. The previous handlers come back on exit, however the block ends.
    """
    signals = StopSignals()
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    previous: dict[signal.Signals, object] = {}
    try:
        for name in STOP_SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None and signal.getsignal(sig) is not signal.SIG_IGN:
                previous[sig] = signal.signal(sig, signals.handler)
        yield signals
    finally:
        for sig, old in previous.items():  # None: a handler set outside Python, which cannot be restored
            signal.signal(sig, signal.SIG_DFL if old is None else old)  # type: ignore[arg-type]
