"""experiments/cpu_walk.py without training: the handoff round trip."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
sys.path.insert(0, str(EXPERIMENTS))

import cpu_walk  # noqa: E402


def test_handoff_round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu_walk, "ROOT", tmp_path)
    run = cpu_walk.run_dir("recipe")
    for step in (1003520, 2007040):
        ckpt = run / "checkpoints" / f"{step:012d}" / "state"
        ckpt.mkdir(parents=True)
        (ckpt / "blob").write_text(str(step))
    (run / "config.json").write_text(json.dumps({"ppo": {}}))
    (run / "metrics.jsonl").write_text('{"env_steps": 0}\n')
    args = type("Args", (), {"variant": "recipe", "at": None})()
    assert cpu_walk.cmd_handoff(args) == 0
    kept = cpu_walk.handoff_dir("recipe")
    assert sorted(p.name for p in (kept / "checkpoints").iterdir()) == ["000002007040"]  # the latest only
    args.at = [1003520]  # also one a fine-tuning variant starts from
    assert cpu_walk.cmd_handoff(args) == 0
    assert sorted(p.name for p in (kept / "checkpoints").iterdir()) == ["000001003520", "000002007040"]
    assert (kept / "metrics.jsonl").read_text() == '{"env_steps": 0}\n'

    fresh = tmp_path / "runs"
    shutil.rmtree(fresh)
    cpu_walk.restore_handoff("recipe")
    assert (run / "checkpoints" / "000002007040" / "state" / "blob").read_text() == "2007040"
    assert (run / "config.json").exists()


def test_every_variant_resolves_to_valid_configs_that_differ_from_the_recipe():
    recipe = cpu_walk.configs("recipe", "berkeley_humanoid")
    for name in cpu_walk.VARIANTS:
        env_cfg, ppo_cfg = cpu_walk.configs(name, "berkeley_humanoid")  # validated on construction
        assert (name == "recipe") == ((env_cfg, ppo_cfg) == recipe), name
    assert cpu_walk.configs("back_0.3", "berkeley_humanoid")[0].command.lin_vel_x == (-0.3, 0.8)


def test_the_cpu_preset_is_the_judged_stages():
    """The cpu preset's stages are the variants whose checkpoints were judged: back_0.3 cut to 6M, then fwd06_ft."""
    from mjx_walker.presets import get_stages

    first, finish = get_stages("berkeley_humanoid", "cpu")
    env, ppo = cpu_walk.configs("back_0.3", "berkeley_humanoid")
    assert first.env == env and first.ppo == ppo.replace(num_timesteps=6_021_120, num_evals=7)
    assert first.ppo.env_steps_per_epoch == ppo.env_steps_per_epoch  # the same epochs as the judged run
    assert cpu_walk.FINETUNE["fwd06_ft"] == ("back_0.3", first.ppo.total_env_steps)
    assert (finish.env, finish.ppo) == cpu_walk.configs("fwd06_ft", "berkeley_humanoid")
