"""The progress bar moves from the first second, and TensorBoard gets every metrics row (no JAX)."""

from __future__ import annotations

import io
import math
import time

import pytest

from mjx_walker.progress import TICK_S, TrainingProgress
from mjx_walker.tb_log import TensorBoardLog, read_scalars
from mjx_walker.training import eval_line


def test_bar_is_redrawn_every_second_while_compiling():
    out = io.StringIO()
    bar = TrainingProgress(40960, file=out)
    time.sleep(3 * TICK_S + 0.3)
    before = out.getvalue()
    bar.update(20480, 12.5, 80)
    bar.close()
    frames = before.split("\r")
    compiling = [f for f in frames if "compiling the reset and eval programs" in f]
    assert len(compiling) >= 3 and "00:02" in "".join(compiling)  # the elapsed time moves before any eval
    assert "eval reward 12.5, length 80; compiling the training epoch" in out.getvalue()


def test_disabled_bar_draws_nothing_and_closes():
    out = io.StringIO()
    bar = TrainingProgress(100, enabled=False, file=out)
    bar.update(50, 1.0, 2.0)
    bar.close()
    assert "training" not in out.getvalue()


def test_eval_line_says_steps_speed_length_tracking_and_reward():
    row = {"env_steps": 20480, "steps_per_s": 1234.4, "episode_length": 87.6, "episode_reward": 3.21}
    assert eval_line({**row, "reward/tracking_lin_vel": 0.456}, 40960) == (
        "eval at 20,480 of 40,960 env steps: 1,234 steps/s, episode length 88, tracking_lin_vel 0.456, reward 3.21"
    )
    assert "tracking" not in eval_line({**row, "reward/tracking_lin_vel": math.nan}, 40960)


def test_tensorboard_holds_every_finite_number_of_every_row(tmp_path):
    log = TensorBoardLog(tmp_path)
    log.write({"env_steps": 0, "wall_time": 3.0, "episode_reward": 1.5, "reward/feet_phase": 0.25, "note": "x"})
    log.write({"env_steps": 20480, "wall_time": 9.0, "episode_reward": 2.5, "reward/feet_phase": math.nan})
    log.close()
    scalars = read_scalars(tmp_path)
    assert scalars["episode_reward"] == [(0, 1.5), (20480, 2.5)]
    assert scalars["reward/feet_phase"] == [(0, 0.25)]  # NaN is left out, not written
    assert "wall_time" not in scalars and "env_steps" not in scalars and "note" not in scalars


def test_tensorboard_disabled_writes_nothing(tmp_path):
    log = TensorBoardLog(tmp_path, enabled=False)
    log.write({"env_steps": 0, "episode_reward": 1.0})
    log.close()
    assert not (tmp_path / "tb").exists()
    assert read_scalars(tmp_path) == {}


@pytest.mark.parametrize("value", [True, "3"])
def test_tensorboard_skips_non_numbers(tmp_path, value):
    log = TensorBoardLog(tmp_path)
    log.write({"env_steps": 1, "flag": value})
    log.close()
    assert "flag" not in read_scalars(tmp_path)


def test_wandb_without_the_package_is_one_line_before_compiling(tmp_path):
    import subprocess
    import sys

    from mjx_walker.configs import ConfigError
    from mjx_walker.tb_log import import_wandb

    with pytest.raises(ConfigError, match="wandb project = '' is invalid"):
        import_wandb("")
    try:
        import wandb  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("wandb is installed here")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "mjx_walker.train", "--preset", "test", "--out", str(out), "--wandb", "walkers"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1, done.stderr
    assert "needs the wandb package" in errors[0] and "pip install wandb" in errors[0]
    assert "Traceback" not in done.stderr and not (out / "config.json").exists()
