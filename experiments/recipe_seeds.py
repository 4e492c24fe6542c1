"""Experiment: does the one-command recipe walk, seed after seed, and how long does it take?

    python experiments/recipe_seeds.py train --seeds 0 1 2 3 4    # each: the first README command, timed, judged
    python experiments/recipe_seeds.py judge RUN --seed 7          # judge a run trained some other way
    python experiments/recipe_seeds.py table                       # the recorded seeds
    python experiments/recipe_seeds.py --variant lag24 train --seeds 0 1 2 \
        --set "randomization.lag_substeps=(0, 6)"                   # a lever: the recipe with overrides

``train`` runs ``python -m mjx_walker.train --out runs/recipe-seed<S> --set ppo.seed=<S>`` (the
``cpu`` preset on a CPU, both stages, compiles included) as its own process and times it on the
wall clock (the trainer's checkpoint selection included); then exports the run's policy and judges
it against the walking bar (:mod:`mjx_walker.walking_bar`: ``evaluate`` in MuJoCo C, 30 episodes of
10 s per condition, lags 0 and 16 ms, forward 0.5 m/s and random commands from the trained box, on
seed-0 draws the selection never saw), and the final checkpoint too when the trainer chose another.
Each seed is one record,
``experiments/results/recipe_seed_<robot>_s<S>_<device>_<date>.json``; a seed already trained in
``runs/`` is judged again, not retrained. ``table`` prints k of n seeds walking and the median time.

``--variant NAME`` with ``--set field=value`` (repeatable) tries a lever: the same command with those
overrides on every stage, in ``runs/recipe-<NAME>-seed<S>``, recorded as
``recipe_seed_<robot>_<NAME>_s<S>_...``; ``--variant NAME table`` counts that variant's seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _record

from mjx_walker.selection import SELECTION_FILE
from mjx_walker.walking_bar import judge_policy

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"


def export(run: Path) -> Path:
    """Export the run's final policy to ``run/policy.onnx``; its path."""
    out = run / "policy.onnx"
    subprocess.run([sys.executable, "-m", "mjx_walker.export", str(run), "--out", str(out)], check=True)
    return out


def last_checkpoint_verdict(run: Path, verdict: dict[str, Any]) -> dict[str, Any]:
    """The bar's verdict on the last checkpoint: the run's policy itself unless the trainer selected another."""
    selected = json.loads((run / SELECTION_FILE).read_text()) if (run / SELECTION_FILE).is_file() else None
    if selected is None or selected["chosen"] == selected["last"]:
        return {**verdict, "env_steps": None if selected is None else selected["last"]}
    stage = json.loads((run / "stages.json").read_text())["stages"][-1]["name"]
    ckpt = run / stage / "checkpoints" / f"{selected['last']:012d}"
    out = run / "judge_last" / "policy.onnx"
    subprocess.run([sys.executable, "-m", "mjx_walker.export", str(ckpt), "--out", str(out)], check=True)
    return {**judge_policy(out, run / "judge_last", seed=0), "env_steps": selected["last"]}


def judge_run(
    run: Path, robot: str, seed: int, wall_s: float | None, command: list[str] | None, variant: str | None = None
) -> dict[str, Any]:
    """Export and judge one trained run (its policy, and its last checkpoint); write and return its record.

    ``walks`` is the verdict on the run's policy (the trainer's choice among its last checkpoints);
    ``last`` the verdict on the final checkpoint, i.e. the same recipe without that selection.
    """
    verdict = judge_policy(export(run), run / "judge", seed=0)
    last = last_checkpoint_verdict(run, verdict)
    rec = _record.record(
        f"recipe_seed_{robot}_{_tag(variant).replace('-', '_')}s{seed}",
        {"seed": seed, "wall_s": wall_s, **verdict, "last": last},
        experiment="recipe_seeds",
        robot=robot,
        variant=variant,
        run=str(run),
        train_command=command,
    )
    said = "walks" if verdict["walks"] else "does not walk"
    print(f"seed {seed}: {said} (last checkpoint: {last['walks']}); recorded in {_record.write(rec)}")
    return rec


def _tag(variant: str | None) -> str:
    """The variant's part of run and record names: ``""`` for the recipe itself, else ``<NAME>-``."""
    return f"{variant}-" if variant else ""


def cmd_train(args: argparse.Namespace) -> int:
    """Train (or find) and judge each seed."""
    for seed in args.seeds:
        run = ROOT / "runs" / f"recipe-{_tag(args.variant)}seed{seed}"
        command = [sys.executable, "-m", "mjx_walker.train", "--robot", args.robot, "--set", f"ppo.seed={seed}"]
        for item in args.overrides:
            command += ["--set", item]
        command += ["--resume", str(run)] if run.exists() else ["--out", str(run)]
        start = time.perf_counter()
        if subprocess.run(command).returncode:
            print(f"seed {seed}: training failed", file=sys.stderr)
            return 1
        wall = None if "--resume" in command else time.perf_counter() - start
        judge_run(run, args.robot, seed, wall, command[1:], args.variant)
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    """Print every recorded seed, k of n walking and the median wall time."""
    pattern = f"recipe_seed_{args.robot}_{_tag(args.variant).replace('-', '_')}s[0-9]*.json"
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob(pattern))]
    for r in rows:
        res = r["results"]
        wall = f"{res['wall_s'] / 60:.1f} min" if res.get("wall_s") else "n/a"
        said = "walks" if res["walks"] else "FAILS"
        last = "walks" if res.get("last", res)["walks"] else "FAILS"
        print(f"seed {res['seed']}: {said} (last checkpoint {last}), {wall}, {r.get('date')} {r.get('device')}")
    walking = sum(r["results"]["walks"] for r in rows)
    walking_last = sum(r["results"].get("last", r["results"])["walks"] for r in rows)
    times = [r["results"]["wall_s"] for r in rows if r["results"].get("wall_s")]
    median = f"{statistics.median(times) / 60:.1f} min" if times else "n/a"
    print(f"{walking} of {len(rows)} seeds walk ({walking_last} without checkpoint selection); median time {median}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", default="berkeley_humanoid")
    parser.add_argument("--variant", help="a name for a lever tried on the recipe (with --set)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    train = sub.add_parser("train")
    train.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    train.add_argument("--set", dest="overrides", action="append", default=[], help="section.field=value")
    judge = sub.add_parser("judge")
    judge.add_argument("run")
    judge.add_argument("--seed", type=int, required=True, help="the ppo.seed the run trained with")
    judge.add_argument("--wall-s", type=float, default=None, help="its training wall time, if measured")
    sub.add_parser("table")
    args = parser.parse_args(argv)
    if args.cmd == "judge":
        judge_run(Path(args.run), args.robot, args.seed, args.wall_s, None, args.variant)
        return 0
    return cmd_train(args) if args.cmd == "train" else cmd_table(args)


if __name__ == "__main__":
    sys.exit(main())
