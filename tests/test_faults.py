"""Fault injection: however the runner's loop ends, it ends damping; bad CLI input is one line, exit 2.

Runner faults use a scripted backend on a simulated clock (no MuJoCo physics, no JAX compile).
The CLI checks run the shipped policy through onnxruntime, or fail before any policy is loaded.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from runner_helpers import ZeroPolicy, faulty_backend_class, small_meta

from mjx_walker import evaluate as evaluate_cli
from mjx_walker import export as export_cli
from mjx_walker import run as run_cli
from mjx_walker.runner.loop import run_loop
from mjx_walker.runner.safety import SafetyConfig

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "models" / "policies" / "berkeley_humanoid_cpu" / "policy.onnx"
NO_RAMP = SafetyConfig(ramp_duration_s=0.0)


class PolicyFault(RuntimeError):
    """What the scripted policy raises."""


def failing_policy(nu: int, at: int, error: BaseException) -> Callable[[np.ndarray], np.ndarray]:
    """A zero-action policy whose call number ``at`` (0-based) raises ``error``."""
    calls = [0]

    def act(obs: np.ndarray) -> np.ndarray:
        """Zero action (nu,), or the injected error."""
        calls[0] += 1
        if calls[0] - 1 == at:
            raise error
        return np.zeros(nu, np.float32)

    return act


def shaped_policy(shape: tuple[int, ...]) -> Callable[[np.ndarray], np.ndarray]:
    """A policy that returns zeros of the wrong ``shape``."""
    return lambda obs: np.zeros(shape, np.float32)


# name -> (backend kwargs, policy factory(meta), expected exception or None)
FAULTS: dict[str, tuple[dict, Callable, type[BaseException] | None]] = {
    "backend read fails": ({"read_fails_at": 3}, ZeroPolicy, OSError),
    "first read fails": ({"read_fails_at": 0}, ZeroPolicy, OSError),
    "backend write fails": ({"write_fails_at": 2}, ZeroPolicy, OSError),
    "policy raises": ({}, lambda m: failing_policy(m.nu, 2, PolicyFault("onnxruntime: CUDA error")), PolicyFault),
    "KeyboardInterrupt in the policy": ({}, lambda m: failing_policy(m.nu, 3, KeyboardInterrupt()), KeyboardInterrupt),
    "KeyboardInterrupt in a read": ({"read_fails_at": 4, "error": KeyboardInterrupt()}, ZeroPolicy, KeyboardInterrupt),
    "wrong-shape action (3,)": ({}, lambda m: shaped_policy((3,)), None),
    "wrong-shape action (1,) (would broadcast)": ({}, lambda m: shaped_policy((1,)), None),
    "wrong-shape action (1, nu)": ({}, lambda m: shaped_policy((1, m.nu)), None),
    "duration reached": ({}, ZeroPolicy, None),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_way_out_of_the_loop_ends_damping(fault):
    meta = small_meta()
    kwargs, make_policy, raises = FAULTS[fault]
    backend = faulty_backend_class()(meta, **kwargs)
    policy = make_policy(meta)
    if raises is None:
        stats = run_loop(backend, policy, meta, np.zeros(3), 0.2, NO_RAMP)
        assert stats.ticks == 10
        if fault.startswith("wrong-shape"):
            assert stats.final_mode == "damping" and stats.trip_reason.startswith("action shape")
            assert "write" not in backend.calls  # a wrong-shape action never reaches the motors
        else:
            assert backend.calls.count("write") == 10 and stats.final_mode == "policy"
    else:
        with pytest.raises(raises):
            run_loop(backend, policy, meta, np.zeros(3), 0.2, NO_RAMP)
    assert backend.calls[-1] == "damp", backend.calls


def test_observer_error_and_observer_stop_end_damping():
    meta = small_meta()
    backend = faulty_backend_class()(meta)

    def observer(tick: object) -> bool:
        """Fails on the third tick."""
        if tick.index == 2:  # type: ignore[attr-defined]
            raise ValueError("plotting failed")
        return False

    with pytest.raises(ValueError, match="plotting failed"):
        run_loop(backend, ZeroPolicy(meta), meta, np.zeros(3), 1.0, NO_RAMP, observer)
    assert backend.calls[-1] == "damp"
    stopping = faulty_backend_class()(meta)
    stats = run_loop(stopping, ZeroPolicy(meta), meta, np.zeros(3), 1.0, NO_RAMP, lambda tick: tick.index == 3)
    assert stats.ticks == 4 and stopping.calls[-1] == "damp"


def test_damping_failure_after_an_error_keeps_the_error():
    meta = small_meta()
    backend = faulty_backend_class()(meta, write_fails_at=1, damp_fails=True)
    with pytest.raises(OSError, match="CAN bus") as info:
        run_loop(backend, ZeroPolicy(meta), meta, np.zeros(3), 1.0, NO_RAMP)
    assert any("damping the motors afterwards failed" in note for note in info.value.__notes__)
    assert backend.calls[-1] == "damp"  # it was tried


# ---------------------------------------------------------------------------------- CLIs


def one_error_line(capsys: pytest.CaptureFixture[str], prog: str) -> str:
    """The single stderr line of a refused CLI call (asserting there is exactly one)."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"python -m mjx_walker.{prog}: error:"), err
    return err[0]


def cli_code(main: Callable[[list[str]], int], argv: list[str]) -> int:
    """Exit code of a CLI's main, whether it returns it or argparse raises SystemExit."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--duration", "-1"], "duration = -1.0 is invalid: expected seconds > 0"),
        (["--duration", "nan"], "duration = nan is invalid"),
        (["--command", "1,2"], "three comma-separated numbers"),
        (["--command", "a,b,c"], "three comma-separated numbers"),
        (["--command", "5,0,0"], "command lin_vel_x = 5 m/s is invalid: expected a value in the policy's trained"),
        (["--command", "0,nan,0"], "command lin_vel_y = nan m/s is invalid"),
    ],
)
def test_run_cli_bad_argument_is_one_line_exit_2(capsys, args, words):
    assert cli_code(run_cli.main, [str(SHIPPED), *args]) == 2
    line = one_error_line(capsys, "run")
    assert words in line, line


def test_run_cli_ctrl_c_is_one_line_exit_130(capsys, monkeypatch):
    def interrupted(*args: object, **kwargs: object) -> None:
        """Ctrl-C during the run."""
        raise KeyboardInterrupt

    monkeypatch.setattr(run_cli, "run_policy", interrupted)
    assert run_cli.main([str(SHIPPED)]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0] and "damped" in err[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--duration", "-1"], "duration must be finite and > 0 s, got -1.0"),
        (["--duration", "inf"], "duration must be finite and > 0 s, got inf"),
        (["--shift", "nan"], "shift must be finite and >= 0"),
        (["--lag-ms", "nan"], "lag_ms must be finite and >= 0 ms, got nan"),
        (["--lag-ms", "0,-5"], "lag_ms must be finite and >= 0 ms, got -5.0"),
        (["--push-mps", "nan"], "push_mps must be finite"),
        (["--seed", "-1"], "seed must be >= 0"),
        (["--command", "5,0,0"], "command lin_vel_x = 5 m/s is invalid"),
        (["--command", "nan,0,0"], "command lin_vel_x = nan m/s is invalid"),
    ],
)
def test_evaluate_cli_bad_argument_is_one_line_exit_2(tmp_path, capsys, args, words):
    argv = [str(SHIPPED), "--out", str(tmp_path), "--episodes", "1", "--duration", "0.1", *args]
    assert cli_code(evaluate_cli.main, argv) == 2
    line = one_error_line(capsys, "evaluate")
    assert words in line, line
    assert not (tmp_path / "report.json").exists()


@pytest.fixture
def corrupt_sources(tmp_path: Path) -> dict[str, Path]:
    """Policy dirs that are not readable policies."""
    bad_json = tmp_path / "bad_json"
    bad_json.mkdir()
    (bad_json / "policy.json").write_text("{not json")
    (bad_json / "policy.msgpack").write_bytes(b"")
    no_env = tmp_path / "no_env"
    no_env.mkdir()
    (no_env / "policy.json").write_text('{"ppo": {}}')
    return {"bad_json": bad_json, "no_env": no_env, "missing": tmp_path / "nope"}


@pytest.mark.parametrize(
    ("source", "args", "words"),
    [
        ("missing", [], "does not exist"),
        ("bad_json", [], "cannot read a policy there (JSONDecodeError"),
        ("no_env", [], "cannot read a policy there (KeyError"),
        (
            "missing",
            ["--tol", "nan"],
            "tol = nan is invalid: expected a finite max |ONNX - JAX| action difference >= 0",
        ),
        ("missing", ["--tol", "-1"], "tol = -1.0 is invalid"),
        ("missing", ["--opset", "99"], "opset = 99 is invalid"),
        ("missing", ["--rollout-steps", "-1"], "rollout_steps = -1 is invalid"),
        ("missing", ["--tol", "abc"], "argument --tol: invalid float value"),
    ],
)
def test_export_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, corrupt_sources, source, args, words):
    out = tmp_path / "out" / "policy.onnx"
    assert cli_code(export_cli.main, [str(corrupt_sources[source]), "--out", str(out), *args]) == 2
    line = one_error_line(capsys, "export")
    assert words in line, line
    assert not out.exists()
    assert not out.parent.exists() or not any(p.name.startswith(".") for p in out.parent.iterdir())


def test_export_cli_unwritable_out_is_one_line_exit_2(tmp_path, capsys, corrupt_sources):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    for out, words in ((a_file / "policy.onnx", "cannot be written"), (tmp_path, "is a directory")):
        assert cli_code(export_cli.main, [str(corrupt_sources["bad_json"]), "--out", str(out)]) == 2
        line = one_error_line(capsys, "export")
        assert words in line and str(out) in line, line
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


# ------------------------------------------------------------------------- file modes


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_policy_dir_follows_the_umask(tmp_path, umask):
    from runner_helpers import save_small_policy

    old = os.umask(umask)
    try:
        path = save_small_policy(tmp_path / "run" / "policy", small_meta().nu)
        save_small_policy(path, small_meta().nu)  # overwriting keeps it so
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((path / "policy.json").stat().st_mode) == 0o666 & ~umask
    assert sorted(p.name for p in path.parent.iterdir()) == ["policy"]  # no temp or .old dirs left


def test_failed_policy_save_leaves_no_temp_dir(tmp_path, monkeypatch):
    from runner_helpers import save_small_policy

    from mjx_walker import policy as policy_module

    def full_disk(*args: object) -> bytes:
        """Serialization fails."""
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(policy_module.serialization, "to_bytes", full_disk)
    with pytest.raises(OSError, match="No space"):
        save_small_policy(tmp_path / "policy", small_meta().nu)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- malformed backend returns


def malformed_backend(meta: object, at: int, reading: Callable[[object], object] | None = None, **hooks: object):
    """A FaultyBackend whose read ``at`` returns ``reading(state)``; ``hooks``: estop, height values from then on."""
    base = faulty_backend_class()

    class Malformed(base):  # type: ignore[misc, valid-type]
        """Returns what a buggy driver might."""

        def read_state(self) -> object:
            """The reading, or the malformed one."""
            state = super().read_state()
            return reading(state) if reading is not None and self.reads - 1 == at else state

        def estop(self) -> object:
            """The scripted e-stop value from read ``at`` on (False before)."""
            return hooks.get("estop", False) if self.reads - 1 >= at else False

        def base_height_fraction(self) -> object:
            """The scripted height from read ``at`` on (None before)."""
            return hooks.get("height") if self.reads - 1 >= at else None

    return Malformed(meta)


def _with(**changes: object) -> Callable[[object], object]:
    """A reading with ``changes`` (any types: RobotState does not check them)."""
    import dataclasses

    return lambda state: dataclasses.replace(state, **changes)


MALFORMED: dict[str, tuple[int, dict, str]] = {
    "read_state returns None": (
        3,
        {"reading": lambda state: None},
        "backend read_state() returned None (NoneType), expected a RobotState",
    ),
    "the first read returns None": (
        0,
        {"reading": lambda state: None},
        "backend read_state() returned None (NoneType), expected a RobotState",
    ),
    "read_state returns a dict": (
        3,
        {"reading": lambda state: {"timestamp": 0.0}},
        "backend read_state() returned {'timestamp': 0.0} (dict), expected a RobotState",
    ),
    "timestamp None": (
        3,
        {"reading": _with(timestamp=None)},
        "backend read_state() returned timestamp = None (NoneType), expected seconds (a number)",
    ),
    "timestamp a string": (
        3,
        {"reading": _with(timestamp="0.06")},
        "backend read_state() returned timestamp = '0.06' (str), expected seconds (a number)",
    ),
    "joint_pos None": (
        3,
        {"reading": _with(joint_pos=None)},
        "backend read_state() returned joint_pos = None (NoneType), expected an array of numbers",
    ),
    "joint_vel strings": (
        3,
        {"reading": _with(joint_vel=["fast"] * 12)},
        "backend read_state() returned joint_vel = ['fast', 'fast', 'fast', 'fast', 'fast', 'fast', ...] (list), "
        "expected an array of numbers",
    ),
    "gyro a dict": (
        3,
        {"reading": _with(gyro={"x": 0.0})},
        "backend read_state() returned gyro = {'x': 0.0} (dict), expected an array of numbers",
    ),
    "estop returns None": (3, {"estop": None}, "backend estop() returned None (NoneType), expected True or False"),
    "base_height_fraction returns a string": (
        3,
        {"height": "1.0"},
        "backend base_height_fraction() returned '1.0' (str), expected a number or None",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_backend_return_damps_then_names_it(case):
    from mjx_walker.runner.backend import BackendError

    meta = small_meta()
    at, kwargs, message = MALFORMED[case]
    backend = malformed_backend(meta, at, **kwargs)
    with pytest.raises(BackendError) as info:
        run_loop(backend, ZeroPolicy(meta), meta, np.zeros(3), 1.0, NO_RAMP)
    assert str(info.value) == message
    assert backend.calls[-1] == "damp"
    assert backend.calls.count("write") == max(at - 1, 0)  # read 0 is the loop's first look; tick k reads k + 1


def test_run_cli_malformed_backend_return_is_one_line_exit_1(capsys, monkeypatch):
    from mjx_walker.runner import session

    backends = []

    def broken(name: str, meta: object, *args: object, **kwargs: object) -> object:
        """The named backend, with a driver that returns None on its fourth read."""
        backends.append(malformed_backend(meta, 3, reading=lambda state: None))
        return backends[-1]

    monkeypatch.setattr(session, "make_backend", broken)
    assert run_cli.main([str(SHIPPED), "--duration", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "python -m mjx_walker.run: error: backend read_state() returned None (NoneType), expected a RobotState; "
        "the motors were left damped"
    ]
    assert backends[0].calls[-1] == "damp"
