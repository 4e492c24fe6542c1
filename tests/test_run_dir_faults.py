"""Run-directory faults (no compile): corrupt metrics, lost checkpoints, two processes on one run.

Every test that calls ``train`` guards against a real training starting (``no_training``): the
run-dir checks must refuse before Brax or the MJX env is ever built.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mjx_walker import checkpointing as ck
from mjx_walker import run_dir as rd
from mjx_walker.presets import get_preset
from mjx_walker.training import train

ROBOT = "berkeley_humanoid"


@pytest.fixture
def no_training(monkeypatch):
    """Make building the env or starting Brax's trainer fail the test at once."""
    import brax.training.agents.ppo.train as brax_ppo

    import mjx_walker.env

    def refuse(*args, **kwargs):
        raise AssertionError("a training was started; the run-dir check should have refused first")

    monkeypatch.setattr(brax_ppo, "train", refuse)
    monkeypatch.setattr(mjx_walker.env, "WalkEnv", refuse)


def _run_with_config(run: Path) -> tuple:
    """A run directory holding the test preset's config.json; returns (env, ppo)."""
    env, ppo = get_preset(ROBOT, "test")
    run.mkdir(parents=True, exist_ok=True)
    rd.write_config(run, rd.resolved_config(env, ppo, 1))
    return env, ppo


def _write_rows(run: Path, steps: list[int]) -> None:
    """Append one metrics row per env step."""
    for step in steps:
        rd.append_metrics(run, {"env_steps": step, "wall_time": float(step), "episode_reward": 1.0})


# ----------------------------------------------------------------------------- metrics.jsonl
def test_a_corrupt_line_keeps_the_valid_rows_after_it(tmp_path):
    _write_rows(tmp_path, [0, 10])
    with open(tmp_path / rd.METRICS_FILE, "a") as f:
        f.write('{"env_steps": 2\x00garbage\n[1, 2]\n{"no_steps": 1}\n\n')  # corrupt, not an object, no step
    _write_rows(tmp_path, [20, 30])
    with open(tmp_path / rd.METRICS_FILE, "a") as f:
        f.write('{"env_steps": 4')  # torn trailing write
    assert [r["env_steps"] for r in rd.read_metrics(tmp_path)] == [0, 10, 20, 30]
    rows, bad = rd.truncate_metrics(tmp_path, 20)
    assert [r["env_steps"] for r in rows] == [0, 10, 20]
    assert bad == [3, 4, 5, 9]  # 1-based line numbers; the blank line is not counted
    assert [r["env_steps"] for r in rd.read_metrics(tmp_path)] == [0, 10, 20]


def test_parse_metrics_is_pure_and_skips_only_bad_lines():
    text = '{"env_steps": 0}\nnot json\n{"env_steps": true}\n{"env_steps": 5}\n{"env_st'
    rows, bad = rd.parse_metrics(text)
    assert rows == [{"env_steps": 0}, {"env_steps": 5}] and bad == [2, 3, 5]


def test_a_corrupt_config_json_is_a_clear_error(tmp_path):
    (tmp_path / rd.CONFIG_FILE).write_text('{"env": {"robot": ')
    with pytest.raises(rd.RunDirError, match=r"cannot resume: .*config\.json is not valid JSON"):
        rd.read_config(tmp_path)
    (tmp_path / rd.CONFIG_FILE).write_text("[]")
    with pytest.raises(rd.RunDirError, match="no 'env' and 'ppo' config sections"):
        rd.read_config(tmp_path)


def test_resume_with_a_corrupt_metrics_line_keeps_every_valid_row(tmp_path, no_training):
    """A resume reaches the trainer with all valid rows kept (the guard stops it there)."""
    env, ppo = _run_with_config(tmp_path)
    epoch = ppo.env_steps_per_epoch
    _, normalizer, policy, value = ck.param_templates(env, ppo)
    ck.save_checkpoint(tmp_path / rd.CHECKPOINTS, epoch, 1, (normalizer, policy, value), env, ppo)
    _write_rows(tmp_path, [0])
    with open(tmp_path / rd.METRICS_FILE, "a") as f:
        f.write("###corrupt###\n")
    _write_rows(tmp_path, [epoch])
    with pytest.raises(AssertionError, match="a training was started"):
        train(env, ppo, tmp_path, resume=True, show_progress=False)
    assert [r["env_steps"] for r in rd.read_metrics(tmp_path)] == [0, epoch]


# ---------------------------------------------------------------------- lost checkpoints
def test_check_resumable_allows_a_kill_during_the_first_checkpoint():
    run = Path("/run")
    rows = [{"env_steps": 0}, {"env_steps": 100}]
    rd.check_resumable(run, [], None, 100, ckpt_dir_exists=False)  # killed before the first eval
    rd.check_resumable(run, rows[:1], None, 100, ckpt_dir_exists=False)  # killed in epoch 1
    rd.check_resumable(run, rows, None, 100, ckpt_dir_exists=True)  # killed writing checkpoint 100
    rd.check_resumable(run, rows + [{"env_steps": 200}], 100, 100, ckpt_dir_exists=True)


@pytest.mark.parametrize(
    ("last_ckpt", "dir_exists", "reason"),
    [
        (None, False, r"checkpoints is missing"),
        (None, True, r"no complete checkpoint in"),
        (100, True, r"latest complete checkpoint is at env step 100"),
    ],
)
def test_check_resumable_refuses_when_checkpoints_were_lost(last_ckpt, dir_exists, reason):
    rows = [{"env_steps": s} for s in (0, 100, 200, 300)]
    with pytest.raises(
        rd.RunDirError, match=rf"cannot resume /run: metrics\.jsonl has evals up to env step 300.*{reason}"
    ):
        rd.check_resumable(Path("/run"), rows, last_ckpt, 100, ckpt_dir_exists=dir_exists)


def test_resume_without_checkpoints_refuses_and_keeps_the_metrics(tmp_path, no_training):
    env, ppo = _run_with_config(tmp_path)
    epoch = ppo.env_steps_per_epoch
    _write_rows(tmp_path, [0, epoch, 2 * epoch])
    before = (tmp_path / rd.METRICS_FILE).read_text()
    with pytest.raises(rd.RunDirError, match=r"cannot resume .*checkpoints is missing.*retrain over the old policy"):
        train(env, ppo, tmp_path, resume=True, show_progress=False)
    assert (tmp_path / rd.METRICS_FILE).read_text() == before  # nothing deleted
    assert not (tmp_path / rd.CHECKPOINTS).exists()


def test_cli_resume_of_a_run_without_checkpoints_is_one_line_and_exit_2(tmp_path, no_training, monkeypatch, capsys):
    from mjx_walker import training

    monkeypatch.setattr(training, "_setup_jax", lambda *a, **k: 1)  # JAX is already up in this process
    _, ppo = _run_with_config(tmp_path)
    _write_rows(tmp_path, [0, ppo.env_steps_per_epoch, 2 * ppo.env_steps_per_epoch])
    with pytest.raises(SystemExit) as exit_:
        training.main(["--resume", str(tmp_path), "--no-progress"])
    assert exit_.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "cannot resume" in err[0] and "checkpoints is missing" in err[0]


# --------------------------------------------------------------------------------- lock
def test_a_second_lock_of_a_run_dir_names_the_dir_and_the_holder(tmp_path):
    with rd.lock_run_dir(tmp_path) as lock:
        assert lock.read_text().strip() == str(os.getpid())
        with pytest.raises(rd.RunDirLocked, match=rf"{tmp_path} is in use by .* \(pid {os.getpid()}\)"):
            with rd.lock_run_dir(tmp_path):
                pass
    with rd.lock_run_dir(tmp_path):  # released on exit
        pass


def test_train_refuses_a_run_dir_another_training_holds(tmp_path, no_training):
    env, ppo = _run_with_config(tmp_path)
    with rd.lock_run_dir(tmp_path):
        with pytest.raises(rd.RunDirLocked, match=rf"{tmp_path} is in use"):
            train(env, ppo, tmp_path, resume=True, show_progress=False)
        with pytest.raises(rd.RunDirLocked):
            train(env, ppo, tmp_path / "sub" / "..", show_progress=False)  # same dir, another spelling
    assert rd.read_metrics(tmp_path) == []


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from mjx_walker.run_dir import lock_run_dir
    with lock_run_dir(Path(sys.argv[1])):
        print("locked", flush=True)
        time.sleep(120)
    """
)


def test_a_sigkilled_holder_leaves_no_stale_lock(tmp_path):
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path)], cwd=repo, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(rd.RunDirLocked, match=rf"\(pid {proc.pid}\)"):
            with rd.lock_run_dir(tmp_path):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert (tmp_path / rd.LOCK_FILE).exists()  # the file stays; the kernel dropped the flock
    with rd.lock_run_dir(tmp_path):
        pass


def test_metrics_rows_written_by_append_are_json_lines(tmp_path):
    rd.append_metrics(tmp_path, {"env_steps": 1})
    assert json.loads((tmp_path / rd.METRICS_FILE).read_text()) == {"env_steps": 1}


def _run_with_checkpoints(run: Path, steps: list[int]):
    """A test-preset run directory holding complete checkpoints at ``steps`` (epochs 1, 2, ...)."""
    env, ppo = get_preset(ROBOT, "test")
    _, normalizer, policy, value = ck.param_templates(env, ppo)
    for epoch, step in enumerate(steps, start=1):
        ck.save_checkpoint(run / rd.CHECKPOINTS, step, epoch, (normalizer, policy, value), env, ppo)
    return env, ppo


def test_resume_refuses_a_config_json_edited_since_the_checkpoint(tmp_path):
    """config.json edited by hand (learning rate, a reward weight): refused, each field with both values."""
    import dataclasses

    from mjx_walker.configs import ConfigError
    from mjx_walker.training import _resume_point

    env, ppo = _run_with_checkpoints(tmp_path, [20480])
    edited_reward = dataclasses.replace(env.reward, alive=5.0)
    edited = rd.resolved_config(
        dataclasses.replace(env, reward=edited_reward), dataclasses.replace(ppo, learning_rate=0.5), 1
    )
    with pytest.raises(ConfigError) as err:
        _resume_point(tmp_path, ppo.env_steps_per_epoch, edited)
    text = str(err.value)
    assert "ppo.learning_rate" in text and repr(ppo.learning_rate) in text and "0.5" in text
    assert "env.reward.alive" in text and "20,480 env steps" in text
    same = rd.resolved_config(env, ppo, 1)
    assert _resume_point(tmp_path, ppo.env_steps_per_epoch, same)[0] == 1


def test_resume_falls_back_past_a_damaged_newest_checkpoint(tmp_path, capsys):
    from mjx_walker.training import _resume_point

    env, ppo = _run_with_checkpoints(tmp_path, [20480, 40960])
    meta = ck.step_dir(tmp_path / rd.CHECKPOINTS, 40960) / "meta" / "metadata"
    meta.write_text(meta.read_text()[:10])  # truncated JSON
    epochs, params, _ = _resume_point(tmp_path, ppo.env_steps_per_epoch, rd.resolved_config(env, ppo, 1))
    assert epochs == 1 and params is not None
    err = capsys.readouterr().err
    assert "000000040960" in err and "damaged" in err and "previous one, at 20,480 env steps" in err
    first = ck.step_dir(tmp_path / rd.CHECKPOINTS, 20480) / "meta" / "metadata"
    first.write_text("")
    with pytest.raises(rd.RunDirError, match="every checkpoint"):
        _resume_point(tmp_path, ppo.env_steps_per_epoch, rd.resolved_config(env, ppo, 1))
