"""Fast training tests (no compile): config checks, presets, overrides, resume refusal, NaN guard."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from mjx_walker import run_dir as rd
from mjx_walker.configs import ConfigError, EnvConfig, to_dict
from mjx_walker.ppo_config import PPOConfig
from mjx_walker.presets import PRESETS, SECTIONS, apply_overrides, get_preset
from mjx_walker.robots import ROBOTS
from mjx_walker.training import TrainingDiverged, _metrics_row, check_configs, check_finite, train


def test_every_preset_of_every_robot_is_valid_on_1_and_2_devices():
    for robot in ROBOTS:
        for name in PRESETS:
            env, ppo = get_preset(robot, name)
            backend = "gpu" if name == "gpu" else "cpu"  # the CPU presets must also not hang on 2 host devices
            for devices in (1, 2):
                check_configs(env, ppo, devices, backend)
            assert ppo.total_env_steps >= ppo.num_timesteps


def test_unknown_preset_and_robot_are_named():
    with pytest.raises(ConfigError, match=r"preset = 'laptop'.*\['cpu', 'gpu', 'test'\]"):
        get_preset("berkeley_humanoid", "laptop")
    with pytest.raises(ConfigError, match="robot = 'atlas'.*known robots"):
        get_preset("atlas", "cpu")


def test_divisibility_messages_name_field_value_and_valid_values():
    ppo = PPOConfig(num_envs=48, batch_size=32, num_minibatches=4)
    with pytest.raises(ConfigError, match=r"PPOConfig.num_envs = 48.*32 \* 4 = 128.*valid num_envs"):
        ppo.check_devices(1)
    ppo = PPOConfig(num_envs=3, batch_size=3, num_minibatches=4)
    with pytest.raises(ConfigError, match=r"num_envs = 3 .*multiple of the device count 2.*e\.g\. 4"):
        ppo.check_devices(2)
    ppo = PPOConfig(num_envs=4, batch_size=3, num_minibatches=4)
    with pytest.raises(ConfigError, match=r"batch_size = 3 .*multiple of the device count 2"):
        ppo.check_devices(2)
    PPOConfig(num_envs=4, batch_size=4, num_minibatches=4).check_devices(2)


def test_sizes_must_be_positive():
    with pytest.raises(ConfigError, match=r"PPOConfig.num_envs = 0 is invalid"):
        PPOConfig(num_envs=0)
    with pytest.raises(ConfigError, match=r"policy_hidden_layer_sizes"):
        PPOConfig(policy_hidden_layer_sizes=(32, 0))


def test_overrides_parse_types():
    env, ppo = get_preset("berkeley_humanoid", "test")
    env, ppo = apply_overrides(
        env,
        ppo,
        ["ppo.num_envs=32", "push.enabled=True", "ppo.learning_rate=1", "command.episode_length=50"],
    )
    assert ppo.num_envs == 32 and env.push.enabled is True
    assert ppo.learning_rate == 1.0 and isinstance(ppo.learning_rate, float)
    assert env.command.episode_length == 50
    env, _ = apply_overrides(env, ppo, ["command.lin_vel_x=[-0.5, 0.5]"])
    assert env.command.lin_vel_x == (-0.5, 0.5)
    with pytest.raises(ConfigError, match="unknown section 'robt'"):
        apply_overrides(env, ppo, ["robt.name=g1"])
    with pytest.raises(ConfigError, match="PPOConfig has no field 'num_env'"):
        apply_overrides(env, ppo, ["ppo.num_env=3"])
    with pytest.raises(ConfigError, match="expected section.field=value"):
        apply_overrides(env, ppo, ["ppo.num_envs"])
    with pytest.raises(ConfigError, match="PPOConfig.num_envs = -1"):
        apply_overrides(env, ppo, ["ppo.num_envs=-1"])
    with pytest.raises(ConfigError, match=r"ppo.num_envs is already set by 'ppo.num_envs=32'; give each field once"):
        apply_overrides(env, ppo, ["ppo.num_envs=32", "ppo.seed=1", "ppo.num_envs=64"])


def test_resume_with_a_changed_config_is_refused_naming_the_fields(tmp_path):
    env, ppo = get_preset("berkeley_humanoid", "test")
    rd.write_config(tmp_path, rd.resolved_config(env, ppo, 1))
    changed_env, changed_ppo = apply_overrides(env, ppo, ["ppo.learning_rate=0.01", "push.enabled=True"])
    with pytest.raises(ConfigError) as err:
        train(changed_env, changed_ppo, tmp_path, resume=True, show_progress=False)
    message = str(err.value)
    assert "ppo.learning_rate: 0.001 -> 0.01" in message
    assert "env.push.enabled: False -> True" in message
    assert "num_envs" not in message


def test_a_new_run_refuses_an_existing_run_dir(tmp_path):
    env, ppo = get_preset("berkeley_humanoid", "test")
    rd.write_config(tmp_path, rd.resolved_config(env, ppo, 1))
    with pytest.raises(FileExistsError, match="--resume"):
        train(env, ppo, tmp_path, show_progress=False)


def test_non_finite_values_stop_training_naming_the_step():
    good = ({"m": np.zeros(3)}, {"w": np.ones(2)}, {"v": np.ones(2)})
    check_finite(10, good, {"training/policy_loss": 0.5, "eval/episode_reward": 1.0})
    with pytest.raises(TrainingDiverged, match=r"env step 20480 in: training/policy_loss"):
        check_finite(20480, good, {"training/policy_loss": math.nan})
    bad = ({"m": np.array([0.0, np.inf])}, {"w": np.ones(2)}, {"v": np.array([np.nan])})
    with pytest.raises(TrainingDiverged, match="step 7 in: observation normalizer, value parameters"):
        check_finite(7, bad, {})


def test_metrics_truncation_drops_later_rows_and_torn_lines(tmp_path):
    for step in (0, 10, 20, 30):
        rd.append_metrics(tmp_path, {"env_steps": step})
    with open(tmp_path / rd.METRICS_FILE, "a") as f:
        f.write('{"env_steps": 4')  # torn write
    rows, bad = rd.truncate_metrics(tmp_path, 20)
    assert [r["env_steps"] for r in rows] == [0, 10, 20] and bad == [5]
    assert [r["env_steps"] for r in rd.read_metrics(tmp_path)] == [0, 10, 20]


def test_package_train_is_the_function():
    import mjx_walker

    if mjx_walker.__file__ is None:  # the venv's editable install maps the package as a namespace
        pytest.skip("mjx_walker imported as a namespace package (stale editable install): reinstall")
    from mjx_walker import train as package_train
    from mjx_walker.training import train as impl

    assert package_train is impl


def test_default_env_config_is_used_by_presets():
    env, _ = get_preset("g1", "gpu")
    assert env == EnvConfig(robot=env.robot)


@pytest.mark.parametrize("limit", [0, -5.0, float("nan")])
def test_a_bad_time_limit_is_refused_before_anything_runs(tmp_path, limit):
    env, ppo = get_preset("berkeley_humanoid", "test")
    with pytest.raises(ConfigError, match=r"time_limit_s = .* expected seconds > 0"):
        train(env, ppo, tmp_path / "run", show_progress=False, time_limit_s=limit)
    assert not (tmp_path / "run").exists()  # refused before the run dir was made


# ------------------------------------------------------------------ --set bools
def _bool_fields():
    """(section, field) of every bool field a --set can reach."""
    env, ppo = get_preset("berkeley_humanoid", "test")
    out = []
    for section in SECTIONS:
        target = ppo if section == "ppo" else getattr(env, section)
        out += [(section, f.name) for f in dataclasses.fields(target) if isinstance(getattr(target, f.name), bool)]
    return out


def test_every_bool_field_is_reachable():
    assert {("push", "enabled"), ("ppo", "normalize_observations"), ("reward", "clip_total_at_zero")} <= set(
        _bool_fields()
    )


@pytest.mark.parametrize(("section", "name"), _bool_fields())
@pytest.mark.parametrize(
    ("text", "expected"),
    [("false", False), ("False", False), ("NO", False), ("0", False), ("true", True), ("Yes", True), ("1", True)],
)
def test_set_parses_bools_strictly(section, name, text, expected):
    env, ppo = get_preset("berkeley_humanoid", "test")
    env, ppo = apply_overrides(env, ppo, [f"{section}.{name}={text}"])
    value = getattr(ppo if section == "ppo" else getattr(env, section), name)
    assert value is expected


@pytest.mark.parametrize("text", ["maybe", "2", "off", "", "[]", "'false'"])
def test_set_refuses_a_non_bool_naming_field_value_and_allowed(text):
    env, ppo = get_preset("berkeley_humanoid", "test")
    with pytest.raises(
        ConfigError, match=rf"PushConfig\.enabled = {re.escape(repr(text))} is invalid: expected a boolean: true/false"
    ):
        apply_overrides(env, ppo, [f"push.enabled={text}"])


# ------------------------------------------------------------------ validator gaps
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"policy_hidden_layer_sizes": 32}, r"policy_hidden_layer_sizes = 32 is invalid: expected a non-empty tuple"),
        ({"value_hidden_layer_sizes": ()}, r"value_hidden_layer_sizes = \(\) is invalid"),
        ({"value_hidden_layer_sizes": (32, True)}, r"value_hidden_layer_sizes = \(32, True\) is invalid"),
        ({"discounting": 1.5}, r"discounting = 1\.5 is invalid: expected a number in \(0\.0, 1\.0\]"),
        ({"discounting": 0.0}, r"discounting = 0\.0 is invalid"),
        (
            {"seed": 2**32},
            r"seed = 4294967296 is invalid: expected an integer in \[0, \d+\]: JAX PRNG seeds are 32-bit",
        ),
        ({"seed": 2**63}, r"seed = 9223372036854775808 is invalid"),
        ({"seed": -1}, r"seed = -1 is invalid"),
        (
            {"seed": 2**31 - 1, "num_evals": 5},
            r"seed = 2147483647 is invalid: expected an integer in \[0, 2147483644\]",
        ),
        ({"normalize_observations": "false"}, r"normalize_observations = 'false' is invalid: expected a boolean"),
        ({"activation": {}}, r"activation = \{\} is invalid"),
        ({"learning_rate": 10**400}, r"learning_rate = 1000.* is invalid"),
    ],
)
def test_ppo_validator_gaps(changes, message):
    with pytest.raises(ConfigError, match=rf"PPOConfig\.{message}"):
        PPOConfig(**changes)


def test_ppo_accepts_numpy_scalars():
    ppo = PPOConfig(
        num_envs=np.int64(64), learning_rate=np.float32(1e-3), seed=np.uint32(7), deterministic_eval=np.bool_(True)
    )
    assert type(ppo.num_envs) is int and type(ppo.learning_rate) is float and ppo.seed == 7
    assert ppo.deterministic_eval is True
    assert PPOConfig(policy_hidden_layer_sizes=[np.int64(32), 16]).policy_hidden_layer_sizes == (32, 16)
    assert PPOConfig(seed=2**31 - 19).seed == 2**31 - 19  # the largest seed the 20-eval default allows


def test_host_device_count_check():
    from mjx_walker.host_devices import check_host_device_count

    check_host_device_count(None)
    check_host_device_count(2)
    for bad in (-3, 0, 10**6, True):
        with pytest.raises(ConfigError, match=rf"--host-devices = {bad!r} is invalid: expected an integer in \[1, "):
            check_host_device_count(bad)


@pytest.fixture
def cli_without_jax(monkeypatch):
    """training.main, but reaching the JAX set-up or train() fails the test."""
    from mjx_walker import training

    def refuse(*args, **kwargs):
        raise AssertionError("bad CLI input reached JAX set-up or training")

    monkeypatch.setattr(training, "_setup_jax", refuse)
    monkeypatch.setattr(training, "train", refuse)
    return training.main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host-devices", "-3"], r"--host-devices = -3 is invalid"),
        (["--host-devices", "0"], r"--host-devices = 0 is invalid"),
        (["--set", "ppo.seed=1099511627776"], r"PPOConfig\.seed = 1099511627776 is invalid"),
        (["--set", "ppo.discounting=1.5"], r"PPOConfig\.discounting = 1\.5 is invalid"),
        (["--set", "randomization.lag_substeps=(4,0)"], r"RandomizationConfig\.lag_substeps = \(4, 0\) is invalid"),
        (["--set", "ppo.policy_hidden_layer_sizes=32"], r"PPOConfig\.policy_hidden_layer_sizes = 32 is invalid"),
        (["--set", "robot.name={}"], r"RobotConfig\.name = '\{\}' is invalid: known robots"),
        (["--set", "push.enabled=nope"], r"PushConfig\.enabled = 'nope' is invalid: expected a boolean"),
    ],
)
def test_bad_cli_input_fails_before_jax_and_before_config_json(tmp_path, capsys, cli_without_jax, args, message):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_:
        cli_without_jax(["--preset", "test", "--out", str(out), "--no-progress", *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.match(rf"error: .*{message}", err[0]), err
    assert not out.exists()  # no config.json, no run dir


def test_training_diverged_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    from mjx_walker import training

    def diverge(*args, **kwargs):
        raise training.PhysicsUnstable("100% of eval episodes at env step 0 ended in non-finite physics")

    monkeypatch.setattr(training, "_setup_jax", lambda *a, **k: 1)  # JAX is already up in this process
    monkeypatch.setattr(training, "train", diverge)
    with pytest.raises(SystemExit) as exit_:
        training.main(["--preset", "test", "--out", str(tmp_path / "run"), "--no-progress"])
    assert exit_.value.code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == ["error: 100% of eval episodes at env step 0 ended in non-finite physics"]


# -------------------------------------------------------------- physics NaN health
def _eval_metrics(fraction):
    """Brax eval metrics with a share of non-finite episodes (None: metric absent)."""
    metrics = {"eval/episode_reward": 1.0, "eval/avg_episode_length": 10.0}
    if fraction is not None:
        metrics["eval/episode_health/nonfinite_resets"] = np.float32(fraction)
    return metrics


def test_physics_health_stops_above_half_and_warns_below():
    from mjx_walker.training import PhysicsUnstable, check_physics_health

    assert check_physics_health(0, _eval_metrics(0.0)) is None
    assert check_physics_health(0, _eval_metrics(None)) is None
    warning = check_physics_health(2048, _eval_metrics(0.25))
    assert warning.startswith("warning: 25% of eval episodes at env step 2048 ended in non-finite")
    assert check_physics_health(0, _eval_metrics(0.5)) is not None  # at the limit: warn only
    with pytest.raises(PhysicsUnstable, match=r"100% of eval episodes at env step 0 .*limit 50%.*blow up"):
        check_physics_health(0, _eval_metrics(1.0))
    assert issubclass(PhysicsUnstable, TrainingDiverged)  # train() adds the last good checkpoint


def test_metrics_row_logs_the_nonfinite_share():
    row = _metrics_row(100, 1.0, 10.0, _eval_metrics(0.75), ("alive",))
    assert row["health/nonfinite_resets"] == 0.75
    assert math.isnan(_metrics_row(100, 1.0, 10.0, _eval_metrics(None), ())["health/nonfinite_resets"])


def test_physics_finite_flags_nan_and_inf():
    import jax.numpy as jnp

    from mjx_walker.env import physics_finite

    ok = jnp.zeros(3)
    assert bool(physics_finite(ok, ok))
    assert not bool(physics_finite(ok.at[1].set(jnp.nan), ok))
    assert not bool(physics_finite(ok, ok.at[0].set(jnp.inf)))


class _FakeWalkEnv:
    """What BraxWalkEnv needs of a WalkEnv, with a step whose physics went non-finite."""

    cfg = EnvConfig()

    def reset(self, rng):
        import jax.numpy as jnp

        from mjx_walker.state import Observation

        return {"x": jnp.zeros(2)}, Observation(actor=jnp.zeros(2), critic=jnp.zeros(3))

    def step(self, pipeline_state, action):
        import jax.numpy as jnp

        from mjx_walker.state import Observation, StepOutput

        zero = jnp.float32(0.0)
        out = StepOutput(
            obs=Observation(actor=jnp.zeros(2), critic=jnp.zeros(3)),
            reward=zero,
            done=jnp.float32(1.0),
            reward_terms={k: zero for k in self.cfg.reward.term_names},
            applied_targets=jnp.zeros((1, 2)),
            torques=jnp.zeros(2),
            nonfinite=jnp.float32(1.0),
        )
        return pipeline_state, out


def test_brax_env_reports_nonfinite_steps_as_a_metric():
    import jax

    from mjx_walker.brax_env import NONFINITE_METRIC, BraxWalkEnv

    env = BraxWalkEnv(_FakeWalkEnv())
    state = env.reset(jax.random.PRNGKey(0))
    assert float(state.metrics[NONFINITE_METRIC]) == 0.0
    stepped = env.step(state, jax.numpy.zeros(2))
    assert float(stepped.metrics[NONFINITE_METRIC]) == 1.0
    assert set(stepped.metrics) == set(state.metrics)  # same pytree in and out, as Brax's scan needs
    assert f"eval/episode_{NONFINITE_METRIC}" == "eval/episode_health/nonfinite_resets"


def test_importing_the_cli_module_never_shadows_the_train_function():
    """``import mjx_walker.train`` fails with directions; ``from mjx_walker import train`` stays the function."""
    import mjx_walker
    from mjx_walker.training import train as impl

    with pytest.raises(ImportError, match="from mjx_walker import train"):
        import mjx_walker.train  # noqa: F401
    from mjx_walker import train as package_train

    assert package_train is impl and mjx_walker.train is impl


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--robot", "t1"], "--robot t1 conflicts with the run being resumed"),
        (["--preset", "gpu"], "--preset gpu does not apply with --resume"),
        (["--out", "elsewhere"], "--out elsewhere does not apply with --resume"),
        (["--init-from", "other"], "--init-from other does not apply with --resume"),
    ],
)
def test_resume_refuses_options_it_would_ignore(tmp_path, monkeypatch, capsys, flags, words):
    """--robot/--preset/--out that a resumed run would not honour end the CLI with one line, exit 2, before JAX."""
    from mjx_walker import training

    env, ppo = get_preset("berkeley_humanoid", "test")
    rd.write_config(tmp_path, rd.resolved_config(env, ppo, 1))
    monkeypatch.setattr(training, "_setup_jax", lambda *a, **k: pytest.fail("JAX set up before the check"))
    with pytest.raises(SystemExit) as exit_:
        training.main(["--resume", str(tmp_path), *flags])
    assert exit_.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and words in err[0]


def test_resume_accepts_the_runs_own_robot(tmp_path):
    """Naming the resumed run's own robot is not a conflict."""
    import argparse

    from mjx_walker import training

    env, ppo = get_preset("berkeley_humanoid", "test")
    rd.write_config(tmp_path, rd.resolved_config(env, ppo, 1))
    args = argparse.Namespace(
        resume=str(tmp_path), robot="berkeley_humanoid", preset=None, out=None, init_from=None, overrides=[]
    )
    assert training._cli_configs(args, "") == (env, ppo)


@pytest.mark.parametrize("with_checkpoint", [False, True])
def test_ctrl_c_is_one_line_that_says_how_to_go_on(tmp_path, monkeypatch, capsys, with_checkpoint):
    """Ctrl-C during training: no traceback; the run dir and the --resume command (or that none is kept), exit 130."""
    from mjx_walker import checkpointing as ck
    from mjx_walker import training

    env, ppo = get_preset("berkeley_humanoid", "test")
    run = tmp_path / "run"
    if with_checkpoint:
        _, normalizer, policy, value = ck.param_templates(env, ppo)
        ck.save_checkpoint(run / rd.CHECKPOINTS, 20480, 1, (normalizer, policy, value), env, ppo)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "_setup_jax", lambda *a, **k: 1)  # JAX is already up in this process
    monkeypatch.setattr(training, "train", interrupted)
    with pytest.raises(SystemExit) as exit_:
        training.main(["--preset", "test", "--out", str(run), "--no-progress"])
    assert exit_.value.code == 130
    err = capsys.readouterr().err
    assert f"run: {run}" in err and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    if with_checkpoint:
        assert last == f"interrupted; kept {run} at 20,480 env steps: python -m mjx_walker.train --resume {run}"
    else:
        assert last.startswith("interrupted before the first checkpoint") and "start again" in last


def test_the_cpu_preset_is_two_stages_and_the_cli_trains_both(tmp_path):
    """cpu = 6M env steps (vx -0.3..0.8) then a 1.5M-step forward finish (edges, lr 1e-4); --set applies to each."""
    import argparse

    from mjx_walker import training
    from mjx_walker.presets import get_stages

    first, finish = get_stages("berkeley_humanoid", "cpu")
    assert (first.name, finish.name) == ("main", "finish")
    assert first.env.command.lin_vel_x == (-0.3, 0.8) and first.ppo.total_env_steps == 6_021_120
    assert finish.env.command.lin_vel_x == (0.0, 0.6) and finish.env.command.edge_prob == 0.3
    assert finish.ppo.learning_rate == 1e-4 and finish.ppo.total_env_steps == 1_536_000
    assert finish.env.command.lin_vel_y == first.env.command.lin_vel_y and finish.env.reward == first.env.reward
    assert [s.name for s in get_stages("berkeley_humanoid", "gpu")] == ["main", "finish"]  # the same recipe

    args = argparse.Namespace(resume=None, robot=None, preset="cpu", out=None, init_from=None)
    args.overrides = ["ppo.num_envs=32", "ppo.batch_size=32"]
    stages = training._cli_stages(args, "cpu")
    assert [s.ppo.num_envs for s in stages] == [32, 32] and stages[1].ppo.learning_rate == 1e-4

    # a staged run resumes from its stages.json, and refuses to start over a run
    rd.write_stages(tmp_path, [{"name": s.name, "env": to_dict(s.env), "ppo": to_dict(s.ppo)} for s in stages])
    resumed = training._cli_stages(
        argparse.Namespace(resume=str(tmp_path), robot=None, preset=None, out=None, init_from=None, overrides=[]), ""
    )
    assert resumed == stages
    with pytest.raises(FileExistsError, match="already holds a run"):
        training.train_stages(stages, tmp_path)
    with pytest.raises(rd.RunDirError, match="no stages.json"):
        training.train_stages(stages, tmp_path / "plain", resume=True)


def test_stages_chain_warm_starts_and_resume_continues_the_running_stage(tmp_path, monkeypatch):
    """train_stages, train() stood in: each stage starts from the previous one; resume picks up the running one."""
    from mjx_walker import selection, training
    from mjx_walker.presets import Stage

    env, ppo = get_preset("berkeley_humanoid", "test")
    stages = [Stage("a", env, ppo), Stage("b", env, ppo), Stage("c", env, ppo)]
    calls, stop_at = [], {"b"}

    def fake_train(env_cfg, ppo_cfg, run_dir, *, resume, show_progress, time_limit_s, init_from, **logging):
        """Record the call; write what a finished (or, for stop_at, a paused) run leaves behind."""
        run = Path(run_dir)
        calls.append((run.name, resume, None if init_from is None else Path(init_from).name))
        (run / rd.POLICY).mkdir(parents=True, exist_ok=True)
        (run / rd.CONFIG_FILE).write_text("{}")
        (run / rd.POLICY / "policy.json").write_text(json.dumps({"stage": run.name}))
        complete = run.name not in stop_at
        return training.TrainResult(run, env_cfg, ppo_cfg, None, None, None, [], 1, complete)

    monkeypatch.setattr(training, "train", fake_train)
    selected = []
    monkeypatch.setattr(selection, "select_policy", lambda run, stage, count: selected.append((stage.name, count)))
    paused = training.train_stages(stages, tmp_path / "run", init_from=tmp_path / "before", select=2)
    assert not paused.complete and calls == [("a", False, "before"), ("b", False, "a")]
    assert [s["name"] for s in rd.read_stages(tmp_path / "run")] == ["a", "b", "c"]
    assert not (tmp_path / "run" / rd.POLICY).exists()  # no policy until the last stage is done
    assert selected == [] and rd.read_select(tmp_path / "run") == 2

    stop_at.clear()
    calls.clear()
    final = training.train_stages(stages, tmp_path / "run", resume=True)
    # a resumes (already done: train returns at once), b resumes where it paused, c starts from b
    assert calls == [("a", True, None), ("b", True, None), ("c", False, "b")]
    assert final.complete and final.run_dir == tmp_path / "run" / "c"
    assert json.loads((tmp_path / "run" / rd.POLICY / "policy.json").read_text()) == {"stage": "c"}
    assert selected == [("c", 2)]  # the resumed run judged its last stage's checkpoints, as it started
