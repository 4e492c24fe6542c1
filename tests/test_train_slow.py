"""Slow training test on CPU: learning on a reduced standing task, in two stages (warm start).

It uses the ``test`` preset of the Berkeley humanoid (zero commands, no pushes, no
randomization or noise, 100-step episodes, 16 envs, 32x32 networks, 2 epochs of 20480 env
steps), sharing compiled code through the persistent JAX cache set in conftest. Resume after a
SIGKILL of the writing process is tests/test_distributed.py's (2 processes, process 0 killed).
"""

from __future__ import annotations

import time

import pytest

from mjx_walker import checkpointing as ck
from mjx_walker import run_dir as rd
from mjx_walker.presets import Stage, get_preset
from mjx_walker.training import train_stages

ROBOT = "berkeley_humanoid"
# Deterministic eval, mean episode length (control steps, max 100) over 16 eval envs.
# Untrained (step-0 eval, measured): 41.75. Trained after 40960 env steps (measured 2026-11-24,
# 1 host device): 100.0, i.e. every eval episode stands to the 100-step limit.
UNTRAINED_MAX = 55.0  # sanity: the untrained policy falls early, the task is not trivial
TRAINED_MIN = 60.0  # the trained policy must stand clearly longer


@pytest.mark.slow
def test_training_learns_to_stand_and_writes_the_run_dir(tmp_path):
    """Two stages of the test preset: the first learns to stand; the second starts from its final checkpoint."""
    env, ppo = get_preset(ROBOT, "test")
    start = time.monotonic()
    stages = [Stage("first", env, ppo), Stage("second", env, ppo)]  # the same configs: compiled code is reused
    final = train_stages(stages, tmp_path / "run", show_progress=False)
    runtime = time.monotonic() - start
    run = tmp_path / "run" / "first"
    rows = rd.read_metrics(run)
    untrained, trained = rows[0]["episode_length"], rows[-1]["episode_length"]
    print(f"episode length untrained {untrained:.1f} -> trained {trained:.1f}; 2 stages in {runtime:.0f} s")
    assert rows[0]["env_steps"] == 0 and untrained < UNTRAINED_MAX
    assert trained >= TRAINED_MIN, (untrained, trained)

    assert [r["env_steps"] for r in rows] == [0, 20480, 40960]
    for row in rows:
        for key in ("wall_time", "steps_per_s", "episode_reward", "episode_length"):
            assert key in row
        for name in env.reward.term_names:  # every reward term is logged
            assert f"reward/{name}" in row
    config = rd.read_config(run)
    assert set(config) >= {"env", "ppo", "versions", "device"} and config["versions"]["brax"]
    assert (run / rd.PLOT_FILE).stat().st_size > 0
    assert ck.complete_steps(run / rd.CHECKPOINTS) == [20480, 40960]

    from mjx_walker.policy import load_policy

    policy = load_policy(run)
    from_ckpt = ck.policy_from_checkpoint(ck.step_dir(run / rd.CHECKPOINTS, 40960))
    import numpy as np

    obs = np.random.default_rng(0).normal(size=(4, policy.normalizer.mean["state"].shape[0]))
    obs = obs.astype(np.float32)
    np.testing.assert_allclose(np.asarray(policy.act(obs)), np.asarray(from_ckpt.act(obs)), atol=1e-6)

    # The second stage is a warm start: it stands from its first (step-0) eval on, where a fresh
    # start falls early; its steps count from zero and its config.json says where it began.
    second = final.metrics
    print(f"second stage: step-0 episode length {second[0]['episode_length']:.1f}")
    assert final.run_dir == (tmp_path / "run" / "second").resolve() and final.complete
    assert second[0]["env_steps"] == 0 and second[0]["episode_length"] >= TRAINED_MIN
    assert final.env_steps == 40960
    began = rd.read_config(final.run_dir)["init_from"]
    assert began["env_steps"] == 40960 and began["checkpoint"] == str(
        ck.step_dir(run / rd.CHECKPOINTS, 40960).resolve()
    )
    # The staged run's own policy is the last stage's; its checkpoint resolves to the last stage too.
    top = load_policy(tmp_path / "run")
    np.testing.assert_array_equal(np.asarray(top.act(obs)), np.asarray(load_policy(final.run_dir).act(obs)))
    assert ck.resolve_checkpoint(tmp_path / "run") == ck.step_dir(final.run_dir / rd.CHECKPOINTS, 40960).resolve()
    assert [s["name"] for s in rd.read_stages(tmp_path / "run")] == ["first", "second"]

    # Resuming the finished staged run trains nothing more.
    again = train_stages(stages, tmp_path / "run", resume=True, show_progress=False)
    assert again.env_steps == 40960 and [r["env_steps"] for r in rd.read_metrics(final.run_dir)] == [0, 20480, 40960]
