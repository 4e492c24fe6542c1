"""Progress bar for training: env steps, steps/s, ETA and the latest eval reward (tqdm)."""

from __future__ import annotations

import sys

from tqdm import tqdm


class TrainingProgress:
    """A tqdm bar over env steps; updated at every eval."""

    def __init__(self, total: int, initial: int = 0, enabled: bool = True) -> None:
        """Start a bar for ``total`` env steps, ``initial`` of them already done (resume)."""
        self.bar = tqdm(
            total=total,
            initial=initial,
            unit="step",
            unit_scale=True,
            dynamic_ncols=True,
            disable=not enabled,
            file=sys.stderr,
            desc="training",
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
            "[{elapsed}<{remaining}, {rate_fmt}]{postfix}",
        )

    def update(self, env_steps: int, reward: float, length: float) -> None:
        """Move the bar to ``env_steps`` and show the latest eval reward and episode length."""
        self.bar.set_postfix_str(f"eval reward {reward:.3g}, length {length:.0f}", refresh=False)
        self.bar.update(max(0, env_steps - self.bar.n))

    def write(self, message: str) -> None:
        """Print a line without breaking the bar."""
        self.bar.write(message, file=sys.stderr)

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()
