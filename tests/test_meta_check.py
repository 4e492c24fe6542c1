"""Every field of a policy's metadata is checked when the runner loads it.

Each case edits one metadata field of a copy of the shipped policy. Loading it must refuse it with
one line naming the field, the value and what is allowed; ``run`` and ``evaluate`` exit with code 2
and no traceback.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import onnx
import pytest

from mjx_walker import evaluate as evaluate_cli
from mjx_walker import run as run_cli
from mjx_walker.onnx_meta import PolicyMeta, read_meta
from mjx_walker.runner.inference import OnnxPolicy
from mjx_walker.runner.meta_check import CHECKED_FIELDS, check_policy_meta
from mjx_walker.runner.safety import SafetyError

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "models" / "policies" / "berkeley_humanoid_cpu" / "policy.onnx"


@pytest.fixture(scope="module")
def shipped_model() -> onnx.ModelProto:
    return onnx.load(str(SHIPPED))


def with_field(model: onnx.ModelProto, path: Path, field: str, text: str) -> Path:
    """A copy of ``model`` at ``path`` whose metadata ``field`` holds the JSON ``text``."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    props = {p.key: p.value for p in copy.metadata_props}
    assert field in props
    props[field] = text
    del copy.metadata_props[:]
    onnx.helper.set_model_props(copy, props)
    onnx.save(copy, str(path))
    return path


def edited(field: str, change: Callable[[object], object]) -> tuple[str, str]:
    """(field, JSON of the shipped value after ``change``)."""
    value = getattr(read_meta(SHIPPED), field)
    return field, json.dumps(change(json.loads(json.dumps(value))))


def set_item(index: int | str, value: object) -> Callable[[object], object]:
    """A change that sets ``container[index] = value``."""

    def change(container: object) -> object:
        """The container with one item replaced."""
        container[index] = value  # type: ignore[index]
        return container

    return change


# (field, JSON text, what the one error line must say)
BAD: list[tuple[str, str, str]] = [
    ("command_ranges", "{}", "command_ranges = {} is invalid: expected a table with exactly the keys"),
    (
        "command_ranges",
        '{"lin_vel_x": [0, 0.6], "lin_vel_y": [-0.3, 0.3]}',
        "command_ranges = {'lin_vel_x': [0, 0.6], 'lin_vel_y': [-0.3, 0.3]} is invalid: expected a table with "
        "exactly the keys ['lin_vel_x', 'lin_vel_y', 'yaw_rate'], each [low, high]",
    ),
    (
        *edited("command_ranges", set_item("lin_vel_x", [0.6, 0.0])),
        "command_ranges.lin_vel_x = [0.6, 0.0] is invalid: expected [low, high] with low <= high, finite, in m/s",
    ),
    (
        *edited("command_ranges", set_item("yaw_rate", [-0.7, "fast"])),
        "command_ranges.yaw_rate = [-0.7, 'fast'] is invalid",
    ),
    ("ctrl_dt", "NaN", "ctrl_dt = nan is invalid: expected a finite control period > 0 s"),
    ("sim_dt", "0.05", "sim_dt = 0.05 is invalid: expected a finite physics step > 0 s, at most ctrl_dt (0.02 s)"),
    (
        *edited("torque_limit", set_item(3, float("nan"))),
        "torque_limit = [20.0, 20.0, 30.0, nan, 20.0, 5.0, ...] is invalid: expected 12 finite values (one per "
        "joint) in N·m > 0",
    ),
    (*edited("torque_limit", set_item(0, 0.0)), "torque_limit = [0.0, 20.0"),
    (*edited("kd", set_item(2, -1.0)), "kd = [0.0, 0.0, -1.0"),
    (*edited("joint_names", set_item(1, "LL_HR")), "joint_names = ['LL_HR', 'LL_HR', "),
    (
        *edited("default_joint_pos", set_item(3, 3.0)),
        "default_joint_pos[3] = 3 rad is invalid: expected a pose within the joint's limits [0, 2.0944] rad",
    ),
    (*edited("joint_lower", set_item(3, 2.5)), "joint_lower[3] = 2.5 > joint_upper[3] = 2.0944 rad"),
    ("solver_iterations", "0", "solver_iterations = 0 is invalid: expected a whole number >= 1"),
    ("gait_frequency_range_hz", "[1.5, 1.25]", "gait_frequency_range_hz = [1.5, 1.25] is invalid"),
    ("initial_gait_phase", "[0.0]", "initial_gait_phase = [0.0] is invalid: expected 2 finite phases in rad"),
    ("max_tilt_rad", "4.0", "max_tilt_rad = 4.0 is invalid: expected an angle in (0, pi] rad"),
    ("min_height_fraction", "1.5", "min_height_fraction = 1.5 is invalid: expected a fraction in [0, 1)"),
    ("obs_layout", "{}", "obs_layout = {} is invalid: expected a non-empty list of observation blocks"),
    ("obs_dim", "49.5", "obs_dim = 49.5 is invalid: expected a whole number >= 1"),
    ("randomization", '{"friction": [0.4, 1.0]}', "randomization = {'friction': [0.4, 1.0]} is invalid"),
    (*edited("randomization", set_item("lag_substeps", [4, 0])), "randomization.lag_substeps = [4, 0] is invalid"),
    ("noise", '{"level": 1.0}', "noise.gyro = None is invalid: expected a finite number >= 0"),
    ("config_digest", "5", "config_digest = 5 is invalid: expected a sha256 hex digest"),
    ("versions", '{"jax": 10}', "versions = {'jax': 10} is invalid"),
    ("opset", '"17"', "opset = '17' is invalid: expected a whole number >= 1"),
    ("parity_tolerance", "-1", "parity_tolerance = -1 is invalid: expected a finite number >= 0, or NaN"),
    ("extra", "[]", "extra = [] is invalid: expected a table"),
    ("robot", '""', "robot = '' is invalid: expected a robot name"),
]


def case_id(case: tuple[str, str, str]) -> str:
    """A readable test id: the field and its bad value."""
    return f"{case[0]}={case[1][:30]}"


def one_line(capsys: pytest.CaptureFixture[str], prog: str) -> str:
    """The single stderr line of a refused CLI call (asserting there is exactly one)."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"python -m mjx_walker.{prog}: error: "), err
    return err[0]


@pytest.mark.parametrize("case", BAD, ids=case_id)
def test_bad_metadata_is_one_line_exit_2_from_run_and_evaluate(tmp_path, capsys, shipped_model, case):
    field, text, words = case
    path = with_field(shipped_model, tmp_path / "bad.onnx", field, text)
    assert run_cli.main([str(path), "--duration", "0.1"]) == 2
    line = one_line(capsys, "run")
    assert f"{path}: policy metadata {words}" in line, line
    out = tmp_path / "eval"
    assert evaluate_cli.main([str(path), "--episodes", "1", "--duration", "0.1", "--out", str(out)]) == 2
    line = one_line(capsys, "evaluate")
    assert f"policy metadata {words}" in line, line
    assert not (out / "report.json").exists()


@pytest.mark.parametrize("field", sorted(CHECKED_FIELDS))
def test_every_field_is_checked_at_load(tmp_path, shipped_model, field):
    """``true`` is no field's valid value: loading names the field whichever it is."""
    path = with_field(shipped_model, tmp_path / "bad.onnx", field, "true")
    with pytest.raises(SafetyError, match=rf"policy metadata {field}(\.\w+)? = True is invalid: expected "):
        OnnxPolicy(path, verbose=False)


def test_the_check_covers_exactly_the_fields_of_policy_meta():
    assert {f.name for f in dataclasses.fields(PolicyMeta)} == CHECKED_FIELDS


def test_shipped_and_spec_metadata_pass():
    check_policy_meta(read_meta(SHIPPED))
    from mjx_walker.policy_spec import load_spec, spec_meta

    spec = REPO / "models" / "specs" / "playground_berkeley_humanoid.toml"
    check_policy_meta(spec_meta(load_spec(spec), str(spec)))
