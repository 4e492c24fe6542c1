"""Paths that follow habit: export writes into the run, the other CLIs take the run; negative commands parse."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mjx_walker import evaluate, export, play, run
from mjx_walker.onnx_meta import PolicyFileError
from mjx_walker.policy_paths import resolve_policy

REPO = Path(__file__).resolve().parent.parent
SHIPPED_DIR = REPO / "models" / "policies" / "berkeley_humanoid_cpu"
SHIPPED = SHIPPED_DIR / "policy.onnx"


def _run_dir(root: Path, stages: list[str] | None = None) -> Path:
    """A run directory's markers: config.json, or stages.json with a config.json per stage."""
    root.mkdir(parents=True)
    if stages is None:
        (root / "config.json").write_text("{}")
    else:
        (root / "stages.json").write_text(json.dumps({"stages": [{"name": n} for n in stages]}))
        for name in stages:
            (root / name).mkdir()
            (root / name / "config.json").write_text("{}")
    return root


def test_resolve_file_run_policy_dir_and_staged_run(tmp_path):
    assert resolve_policy(SHIPPED) == SHIPPED
    assert resolve_policy(SHIPPED_DIR) == SHIPPED  # the shipped run directory
    plain = _run_dir(tmp_path / "plain")
    (plain / "policy").mkdir()
    (plain / "policy" / "policy.onnx").write_bytes(b"x")
    assert resolve_policy(plain) == plain / "policy" / "policy.onnx"  # an export inside the policy directory
    assert resolve_policy(plain / "policy") == plain / "policy" / "policy.onnx"
    staged = _run_dir(tmp_path / "staged", ["main", "finish"])
    (staged / "main" / "policy.onnx").write_bytes(b"x")
    assert resolve_policy(staged) == staged / "main" / "policy.onnx"  # the only stage exported so far
    (staged / "finish" / "policy.onnx").write_bytes(b"x")
    assert resolve_policy(staged) == staged / "finish" / "policy.onnx"  # the last stage's
    (staged / "policy.onnx").write_bytes(b"x")
    assert resolve_policy(staged) == staged / "policy.onnx"  # what `export RUN` writes comes first
    missing = tmp_path / "nope.onnx"
    assert resolve_policy(missing) == missing  # loading it says "no such file"


def test_directory_without_a_policy_names_the_export_command(tmp_path):
    empty = _run_dir(tmp_path / "run")
    with pytest.raises(PolicyFileError, match=r"export one with `python -m mjx_walker.export .*run`"):
        resolve_policy(empty)


def test_default_export_path_follows_the_source(tmp_path):
    plain = _run_dir(tmp_path / "plain")
    (plain / "policy").mkdir()
    (plain / "policy" / "policy.json").write_text("{}")
    assert export.default_output(plain) == plain / "policy.onnx"
    assert export.default_output(plain / "policy") == plain / "policy.onnx"
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "policy.json").write_text("{}")
    assert export.default_output(alone) == alone / "policy.onnx"
    step = plain / "checkpoints" / "000000204800"
    (step / "state").mkdir(parents=True)
    assert export.default_output(step) == plain / "policy_204800.onnx"  # beside the final policy, not over it
    staged = _run_dir(tmp_path / "staged", ["main", "finish"])
    assert export.default_output(staged) == staged / "policy.onnx"
    stage_step = staged / "finish" / "checkpoints" / "000000001000"
    (stage_step / "state").mkdir(parents=True)
    assert export.default_output(stage_step) == staged / "finish" / "policy_1000.onnx"
    with pytest.raises(export.ExportError, match="does not exist"):
        export.default_output(tmp_path / "nope")


def test_export_cli_writes_into_the_run_and_evaluate_takes_the_run(tmp_path, capsys):
    from runner_helpers import save_small_policy

    from mjx_walker.configs import EnvConfig

    run_dir = tmp_path / "run"
    save_small_policy(run_dir / "policy", 12, EnvConfig())
    assert export.main([str(run_dir), "--rollout-steps", "0"]) == 0
    assert (run_dir / "policy.onnx").is_file()
    assert f"wrote {run_dir / 'policy.onnx'}" in capsys.readouterr().out
    args = [str(run_dir), "--episodes", "1", "--duration", "0.1", "--lag-ms", "0", "--out", str(tmp_path / "ev")]
    assert evaluate.main(args) == 0
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert report["policy"] == str(run_dir / "policy.onnx")


@pytest.mark.parametrize("text", ["-0.5,0,0", "-.5,-0.2,0.3", "-1e-1,0,0"])
def test_negative_command_parses_without_equals(text):
    expected = [float(v) for v in text.split(",")]
    assert list(evaluate.build_parser().parse_intermixed_args(["p.onnx", "--command", text]).command) == expected
    assert play.build_parser().parse_args(["p.onnx", "--step", "-0.1"]).step == -0.1
    parser = evaluate.build_parser()
    with pytest.raises(SystemExit):
        parser.parse_intermixed_args(["p.onnx", "--command", "-x"])  # not a number: still an (unknown) option


def test_run_with_a_negative_command_reaches_the_range_check(tmp_path, capsys):
    """The shipped policy is trained from vx 0 m/s: -0.5 is refused by the range check, not by argparse."""
    assert run.main([str(SHIPPED_DIR), "--command", "-0.5,0,0", "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "lin_vel_x = -0.5" in err and "trained range [0, 0.6]" in err


def test_run_takes_a_run_directory(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy2(SHIPPED, run_dir / "policy.onnx")
    (run_dir / "config.json").write_text("{}")
    assert run.main([str(run_dir), "--command", "0.2,-0.1,0", "--duration", "0.2"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1])["ticks"] > 0
