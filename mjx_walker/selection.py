"""The trainer judges its own checkpoints: the best of the last few becomes the run's policy.

PPO's last checkpoint is not always its best: episode to episode, the same recipe's late
checkpoints differ by several falls in 30. After the last stage, :func:`select_policy` exports each
of the stage's last ``count`` checkpoints to ONNX and judges it in MuJoCo C at the walking bar's
conditions (:mod:`mjx_walker.walking_bar`, through the same code as ``evaluate``), on draws of
its own seed, so that a judge on the bar's usual seed stays held out. The candidate with the
fewest falls (then one tracking within the bar's limits, then the latest) is written as the run's
``policy/``; every candidate's figures and the choice go to ``selection.json`` in the run.

Among candidates that tie on falls, the latest wins, not the one with the smallest tracking
error: in a recipe seed whose three candidates all kept 20 of 20 episodes up in every condition,
the smallest error picked the earliest, which then fell in 2 of 120 judged episodes, while the
latest fell in none.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mjx_walker import run_dir as rd
from mjx_walker.checkpointing import complete_steps, step_dir

SELECTION_FILE = "selection.json"
SELECTION_SEED = 1  # the bar's usual judge draws seed 0
SELECTION_EPISODES = 20  # per condition: 4 conditions x 20 x 10 s, about 25 s per candidate on one core


def judge_checkpoint(ckpt: Path, out: Path, episodes: int) -> dict[str, Any]:
    """Export one checkpoint to ``out/policy.onnx`` and judge it; its bar verdict and rows."""
    from mjx_walker.export import export_policy
    from mjx_walker.walking_bar import judge_policy, score

    onnx_path = export_policy(ckpt, out / "policy.onnx", rollout_steps=0).path
    verdict = judge_policy(onnx_path, out, seed=SELECTION_SEED, episodes=episodes)
    return {**verdict, "score": list(score(verdict["conditions"]))}


def select_policy(run: Path, stage: Path, count: int, episodes: int = SELECTION_EPISODES) -> dict[str, Any]:
    """Judge ``stage``'s last ``count`` checkpoints; write the best as ``run/policy/``; the record.

    The record (also ``run/selection.json``): ``candidates`` (env steps, verdict, rows, score),
    ``chosen`` (env steps) and ``last`` (the final checkpoint's env steps), so a reader sees
    whether selection changed the policy.
    """
    from mjx_walker.checkpointing import policy_from_checkpoint
    from mjx_walker.policy import save_policy

    steps = complete_steps(stage / rd.CHECKPOINTS)[-count:]
    candidates = []
    for step in steps:
        verdict = judge_checkpoint(step_dir(stage / rd.CHECKPOINTS, step), run / "selection" / str(step), episodes)
        candidates.append({"env_steps": step, **verdict})
        falls, worst = verdict["score"]
        print(f"selection: {step:,} env steps: falls {falls:.2f}, worst error/limit {worst:.2f}", file=sys.stderr)
    best = min(candidates, key=lambda c: (c["score"][0], c["score"][1] > 1.0, -c["env_steps"]))
    policy = policy_from_checkpoint(step_dir(stage / rd.CHECKPOINTS, best["env_steps"]))
    save_policy(run / rd.POLICY, policy.env_cfg, policy.ppo_cfg, policy.normalizer, policy.params)
    record = {
        "seed": SELECTION_SEED,
        "episodes": episodes,
        "chosen": best["env_steps"],
        "last": steps[-1],
        "candidates": candidates,
    }
    tmp = run / f".{SELECTION_FILE}.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(run / SELECTION_FILE)
    print(f"selection: the run's policy is the checkpoint at {best['env_steps']:,} env steps", file=sys.stderr)
    return record
