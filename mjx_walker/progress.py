"""Progress bar for training: env steps, steps/s, ETA and the latest eval reward (tqdm).

XLA compiles for the first minutes of a run, and Brax reports only at evals, so the bar would
otherwise sit still at 0 %. A ticker thread redraws it every second with what is happening
(compiling, then training towards the next eval) and the elapsed time, from the first second on.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from tqdm import tqdm

TICK_S = 1.0  # seconds between redraws while nothing is reported


class TrainingProgress:
    """A tqdm bar over env steps; moved at every eval, redrawn every second in between."""

    def __init__(self, total: int, initial: int = 0, enabled: bool = True, file: TextIO | None = None) -> None:
        """Start a bar for ``total`` env steps, ``initial`` of them already done (resume)."""
        self.file = file or sys.stderr
        self.bar = tqdm(
            total=total,
            initial=initial,
            unit="step",
            unit_scale=True,
            dynamic_ncols=True,
            disable=not enabled,
            file=self.file,
            desc="training",
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
            "[{elapsed}<{remaining}, {rate_fmt}]{postfix}",
        )
        self.evals = 0
        self._lock = threading.Lock()
        self._status = "compiling the reset and eval programs..."
        self.bar.set_postfix_str(self._status, refresh=True)
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="progress-ticker", daemon=True)
        if enabled:
            self._ticker.start()

    def _tick(self) -> None:
        """Redraw the bar (elapsed time, status) every :data:`TICK_S` until closed."""
        while not self._stop.wait(TICK_S):
            with self._lock:
                self.bar.set_postfix_str(self._status, refresh=True)

    def update(self, env_steps: int, reward: float, length: float) -> None:
        """Move the bar to ``env_steps`` and show the latest eval reward and episode length."""
        with self._lock:
            self.evals += 1
            then = "compiling the training epoch..." if self.evals == 1 else "training..."
            self._status = f"eval reward {reward:.3g}, length {length:.0f}; {then}"
            self.bar.set_postfix_str(self._status, refresh=False)
            self.bar.update(max(0, env_steps - self.bar.n))

    def write(self, message: str) -> None:
        """Print a line without breaking the bar."""
        with self._lock:
            self.bar.write(message, file=self.file)

    def close(self) -> None:
        """Stop the ticker and close the bar."""
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join()
        self.bar.close()
