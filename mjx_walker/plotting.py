"""Learning-curve plot of a run's ``metrics.jsonl``."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_learning_curves(rows: list[dict[str, Any]], path: Path) -> Path:
    """Plot episode reward, episode length and every reward term against env steps into a PNG."""
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend (e.g. a notebook's) alone

    steps = [r["env_steps"] for r in rows]
    terms = sorted({k for r in rows for k in r if k.startswith("reward/")})
    # terms that are zero throughout (weight 0) say nothing; the rest get a colour each (tab20) and
    # alternating line styles, and the legend sits outside the plot, one term per line
    terms = [t for t in terms if any(abs(r.get(t) or 0.0) > 0 for r in rows)]
    fig = Figure(figsize=(18, 4.5))
    axes = fig.subplots(1, 3)
    axes[0].plot(steps, [r.get("episode_reward", float("nan")) for r in rows], marker="o")
    axes[0].set_title("episode reward (eval)")
    axes[1].plot(steps, [r.get("episode_length", float("nan")) for r in rows], marker="o", color="tab:green")
    axes[1].set_title("episode length (eval, control steps)")
    colours = matplotlib.colormaps["tab20"].colors
    for i, term in enumerate(terms):
        axes[2].plot(
            steps,
            [r.get(term, float("nan")) for r in rows],
            label=term.removeprefix("reward/"),
            color=colours[i % len(colours)],
            linestyle=("-", "--", ":")[i // len(colours) % 3] if i >= len(colours) else ("-", "--")[i % 2],
            marker="o" if i % 2 == 0 else "s",
            markersize=3,
        )
    axes[2].set_title("reward terms per episode (eval)")
    axes[2].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    for ax in axes:
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    tmp.replace(path)
    return path
