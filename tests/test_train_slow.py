"""Slow training test on CPU: learning on a reduced standing task.

It uses the ``test`` preset of the Berkeley humanoid (zero commands, no pushes, no
randomization or noise, 100-step episodes, 16 envs, 32x32 networks, 2 epochs of 20480 env
steps), sharing compiled code through the persistent JAX cache set in conftest. Resume after a
SIGKILL of the writing process is tests/test_distributed.py's (2 processes, process 0 killed);
pausing and resuming in one process is tests/test_gpu_run.py's. Staged runs (one stage warm-started
from the previous one's checkpoint, the same ``restore_params`` path as a resume) are
tests/test_train_config.py's, with ``train`` stood in: a second real stage cost CI about 2 minutes.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from mjx_walker import checkpointing as ck
from mjx_walker import run_dir as rd
from mjx_walker.policy import load_policy
from mjx_walker.presets import get_preset
from mjx_walker.tb_log import read_scalars
from mjx_walker.training import train

ROBOT = "berkeley_humanoid"
# Deterministic eval, mean episode length (control steps, max 100) over 16 eval envs.
# Untrained (step-0 eval, measured): 41.75. Trained after 40960 env steps (measured 2026-11-24,
# 1 host device): 100.0, i.e. every eval episode stands to the 100-step limit.
UNTRAINED_MAX = 55.0  # sanity: the untrained policy falls early, the task is not trivial
TRAINED_MIN = 60.0  # the trained policy must stand clearly longer


@pytest.mark.slow
def test_training_learns_to_stand_and_writes_the_run_dir(tmp_path):
    from brax.training import acting

    env, ppo = get_preset(ROBOT, "test")
    brax_evaluator = acting.Evaluator
    start = time.monotonic()
    result = train(env, ppo, tmp_path / "run", show_progress=False)
    runtime = time.monotonic() - start
    assert acting.Evaluator is brax_evaluator  # our evaluator was Brax's only inside the call
    run = tmp_path / "run"
    rows = rd.read_metrics(run)
    untrained, trained = rows[0]["episode_length"], rows[-1]["episode_length"]
    print(f"episode length untrained {untrained:.1f} -> trained {trained:.1f} in {runtime:.0f} s")
    assert rows[0]["env_steps"] == 0 and untrained < UNTRAINED_MAX
    assert trained >= TRAINED_MIN, (untrained, trained)
    assert result.complete and result.env_steps == 40960 and result.run_dir == run.resolve()

    assert [r["env_steps"] for r in rows] == [0, 20480, 40960]
    for row in rows:
        for key in ("wall_time", "steps_per_s", "episode_reward", "episode_length"):
            assert key in row
        for name in env.reward.term_names:  # every reward term is logged
            assert f"reward/{name}" in row
    config = rd.read_config(run)
    assert set(config) >= {"env", "ppo", "versions", "device"} and config["versions"]["brax"]
    assert "init_from" not in config
    assert (run / rd.PLOT_FILE).stat().st_size > 0
    scalars = read_scalars(run)  # the same rows as TensorBoard events
    assert [step for step, _ in scalars["episode_length"]] == [0, 20480, 40960]
    assert scalars["episode_length"][-1][1] == pytest.approx(trained)
    assert all(f"reward/{name}" in scalars for name in env.reward.term_names)
    assert ck.complete_steps(run / rd.CHECKPOINTS) == [20480, 40960]

    policy = load_policy(run)
    from_ckpt = ck.policy_from_checkpoint(ck.step_dir(run / rd.CHECKPOINTS, 40960))
    obs = np.random.default_rng(0).normal(size=(4, policy.normalizer.mean["state"].shape[0]))
    obs = obs.astype(np.float32)
    np.testing.assert_allclose(np.asarray(policy.act(obs)), np.asarray(from_ckpt.act(obs)), atol=1e-6)
    assert ck.resolve_checkpoint(run) == ck.step_dir(run / rd.CHECKPOINTS, 40960).resolve()

    # Resuming the finished run trains nothing more.
    again = train(env, ppo, run, resume=True, show_progress=False)
    assert again.env_steps == 40960 and [r["env_steps"] for r in rd.read_metrics(run)] == [0, 20480, 40960]


@pytest.mark.slow
def test_same_config_and_seed_give_identical_metrics_on_mujoco_c(tmp_path):
    """Two runs of one config and seed on the MuJoCo C physics, as two commands: the same metrics rows.

    Every env is stepped alone by one rollout thread, so thread scheduling cannot reorder sums;
    what differs between the runs is only wall time (and Brax's own timing metrics).
    """
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "mjx_walker.train", "--preset", "test", "--no-progress", "--no-tensorboard"]
    cmd += ["--set", "sim.backend=mujoco", "--set", "ppo.num_timesteps=20480", "--set", "ppo.num_evals=2"]
    procs = [subprocess.Popen([*cmd, "--out", str(tmp_path / name)], stderr=subprocess.PIPE) for name in "ab"]
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err.decode()[-2000:]
    rows = [rd.read_metrics(tmp_path / name) for name in "ab"]
    timing = {"wall_time", "steps_per_s", "training/sps", "training/walltime"}
    kept = [[{k: v for k, v in row.items() if k not in timing} for row in rs] for rs in rows]
    assert [r["env_steps"] for r in rows[0]] == [0, 20480]
    assert len(kept[0][1]) > 20 and kept[0] == kept[1]  # every reward term and loss, bit for bit
