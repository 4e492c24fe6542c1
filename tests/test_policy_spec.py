"""Policies trained elsewhere: the spec's layout builds the hand-built observation, errors name the field.

The foreign policies here are tiny ONNX graphs built in the test (a slice of the observation), so
nothing is downloaded; MuJoCo Playground's own Berkeley Humanoid policy is an experiment
(``experiments/byo_policy.py``), not a test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mjx_walker.evaluate import main as evaluate_main
from mjx_walker.obs_terms import TERMS, build_obs
from mjx_walker.policy_spec import SpecError, load_spec, spec_meta
from mjx_walker.run import main as run_main
from mjx_walker.runner.backend import RobotState
from mjx_walker.runner.inference import OnnxPolicy
from mjx_walker.runner.loop import BackendMismatchError, run_loop
from mjx_walker.runner.mujoco_backend import MuJoCoBackend, SimShift
from mjx_walker.runner.session import sim_config

REPO = Path(__file__).resolve().parent.parent
PLAYGROUND_SPEC = REPO / "models" / "specs" / "playground_berkeley_humanoid.toml"
SHIPPED = REPO / "models" / "policies" / "berkeley_humanoid_cpu" / "policy.onnx"
NU = 12
OBS_DIM = 3 + 3 + 3 + 3 + 3 * NU + 4  # Playground's 52
JOINT_VEL_START = 12 + NU  # base_linvel, gyro, gravity, command, joint_pos come first


def slice_onnx(path: Path, obs_dim: int = OBS_DIM, start: int = JOINT_VEL_START, output: str = "continuous_actions"):
    """A foreign policy: action = obs[:, start:start+12] (no mjx_walker metadata)."""
    inits = [
        helper.make_tensor(name, TensorProto.INT64, [1], [value])
        for name, value in (("starts", start), ("ends", start + NU), ("axes", 1))
    ]
    node = helper.make_node("Slice", ["obs", "starts", "ends", "axes"], [output])
    graph = helper.make_graph(
        [node],
        "foreign",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, [1, obs_dim])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, NU])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


def toml_value(value: object) -> str:
    """A TOML literal for the scalar, list or inline-table values a spec uses."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def write_spec(path: Path, spec: dict) -> Path:
    """Write ``spec`` as TOML: scalars and inline tables, then the [[observation]] tables."""
    lines = [f"{k} = {toml_value(v)}" for k, v in spec.items() if k != "observation"]
    for term in spec.get("observation", []):
        lines += ["[[observation]]"] + [f"{k} = {toml_value(v)}" for k, v in term.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def playground_spec() -> dict:
    """The Playground Berkeley Humanoid spec shipped in models/specs, as a dict."""
    return load_spec(PLAYGROUND_SPEC)


def test_playground_layout_builds_the_hand_built_observation():
    meta = spec_meta(playground_spec(), "pg", OBS_DIM)
    assert meta.obs_dim == OBS_DIM and meta.ctrl_dt == 0.02 and meta.sim_dt == 0.002
    rng = np.random.default_rng(0)
    r = {k: rng.normal(size=n).astype(np.float32) for k, n in (("base_linvel", 3), ("gyro", 3), ("command", 3))}
    r |= {k: rng.normal(size=NU).astype(np.float32) for k in ("joint_pos", "joint_vel", "last_action")}
    r |= {"gravity": np.array([0.1, 0.0, -0.99], np.float32), "gait_phase": np.array([0.3, 0.3 - math.pi], np.float32)}
    r["default_joint_pos"] = np.asarray(meta.default_joint_pos, np.float32)
    # OnnxController.get_obs of Playground's play_bh_joystick.py, written out by hand
    phase = r["gait_phase"]
    by_hand = np.hstack(
        [
            r["base_linvel"],
            r["gyro"],
            r["gravity"],
            r["command"],
            r["joint_pos"] - r["default_joint_pos"],
            r["joint_vel"],
            r["last_action"],
            np.cos(phase),
            np.sin(phase),
        ]
    )
    np.testing.assert_allclose(build_obs(meta.obs_layout, r), by_hand, rtol=0, atol=1e-7)
    scaled = [dict(b, scale=0.25) if b["name"] == "joint_vel" else b for b in meta.obs_layout]
    expect = by_hand.copy()
    expect[JOINT_VEL_START : JOINT_VEL_START + NU] *= 0.25
    np.testing.assert_allclose(build_obs(scaled, r), expect, rtol=0, atol=1e-7)


def test_runner_feeds_the_spec_layout_to_a_foreign_policy(tmp_path):
    spec = playground_spec()
    spec["observation"] = [dict(t, scale=0.5) if t["term"] == "joint_vel" else t for t in spec["observation"]]
    policy = OnnxPolicy(slice_onnx(tmp_path / "p.onnx"), verbose=False, spec=write_spec(tmp_path / "p.toml", spec))
    assert policy.meta.extra["output"] == "continuous_actions" and policy.meta.action_scale == 0.5
    backend = MuJoCoBackend(policy.meta.robot, shift=SimShift(), sim=sim_config(policy.meta))
    assert backend.sim_dt == 0.002
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    run_loop(backend, policy, policy.meta, np.zeros(3, np.float32), 0.6, observer=lambda t: seen.append(t))
    acted = [t for t in seen if t.action is not None]
    assert len(acted) > 5
    for t in acted:  # the action is the joint_vel block of the observation: 0.5 * joint velocity, clipped
        np.testing.assert_allclose(t.action, np.clip(0.5 * t.state.joint_vel, -1, 1), atol=1e-6)
    assert any(np.abs(t.action).max() > 1e-3 for t in acted)


def test_ground_truth_terms_are_refused_on_a_backend_without_them(tmp_path):
    policy = OnnxPolicy(slice_onnx(tmp_path / "p.onnx"), verbose=False, spec=PLAYGROUND_SPEC)
    assert TERMS["base_linvel"].sim_only

    class Hardware(MuJoCoBackend):
        ground_truth = frozenset()

    backend = Hardware(policy.meta.robot, sim=sim_config(policy.meta))
    with pytest.raises(BackendMismatchError, match=r"\['base_linvel'\].*only simulation backends"):
        run_loop(backend, policy, policy.meta, np.zeros(3, np.float32), 0.1)
    assert backend.data.time == 0.0  # refused before anything ran
    assert RobotState(0.0, np.zeros(NU), np.zeros(NU), np.zeros(3), np.zeros(3)).base_linvel is None


BAD_SPECS = [
    ({"observation": [{"term": "foot_height"}]}, r"observation\[0\]\.term = 'foot_height'; allowed: \["),
    ({"observation": [{"term": "gyro", "scale": "x"}]}, r"'gyro': scale 'x' is not a finite number"),
    ({"observation": [{"term": "gyro", "offset": 1}]}, r"observation\[0\] = .*allowed keys: term"),
    ({"robot": "atlas"}, r"robot = 'atlas'; allowed: \["),
    ({"ctrl_dt": -0.02}, r"ctrl_dt = -0.02; allowed: a finite number > 0"),
    ({"sim_dt": 0.003}, r"ctrl_dt 0.02 s is not a whole number of sim_dt 0.003 s"),
    ({"action_scale": 0}, r"action_scale = 0; allowed"),
    ({"kp": [1.0, 2.0]}, r"kp = \[1.0, 2.0\]; allowed: a list of 12 finite numbers"),
    ({"joint_names": ["a"] * 12}, r"joint_names = .*allowed: the robot model's actuator order"),
    ({"command_ranges": {"lin_vel_x": [1.0, -1.0]}}, r"command_ranges.lin_vel_x = \[1.0, -1.0\]"),
    ({"command_ranges": {"speed": [0, 1]}}, r"command_ranges = .*allowed: a table with keys"),
    ({"gait_freq": 1.5}, r"unknown field\(s\) \['gait_freq'\]"),
]


@pytest.mark.parametrize(("change", "message"), BAD_SPECS, ids=[m[:24] for _, m in BAD_SPECS])
def test_bad_spec_errors_name_field_value_and_allowed(tmp_path, change, message):
    spec = playground_spec() | change
    path = write_spec(tmp_path / "bad.toml", spec)
    with pytest.raises(SpecError, match=message):
        spec_meta(load_spec(path), str(path), OBS_DIM)


def test_spec_errors_for_missing_fields_sizes_and_gait(tmp_path):
    spec = playground_spec()
    with pytest.raises(SpecError, match=r"missing required field\(s\) \['action_scale'\]"):
        load_spec(write_spec(tmp_path / "a.toml", {k: v for k, v in spec.items() if k != "action_scale"}))
    with pytest.raises(SpecError, match=r"add up to 52 numbers .* but the ONNX input takes 49"):
        spec_meta(spec, "s", 49)
    no_freq = {k: v for k, v in spec.items() if k != "gait_frequency_hz"}
    with pytest.raises(SpecError, match="gait phase term, so gait_frequency_hz is required"):
        spec_meta(no_freq, "s", OBS_DIM)
    (tmp_path / "b.toml").write_text("robot = \n")
    with pytest.raises(SpecError, match="not a TOML policy spec"):
        load_spec(tmp_path / "b.toml")
    # the ONNX input size is checked against the layout when the policy loads
    with pytest.raises(SpecError, match="ONNX input takes 49"):
        OnnxPolicy(slice_onnx(tmp_path / "small.onnx", obs_dim=49, start=0), verbose=False, spec=PLAYGROUND_SPEC)


def test_cli_compares_a_foreign_policy_with_ours_on_the_same_draws(tmp_path, capsys):
    foreign = slice_onnx(tmp_path / "bh_policy.onnx", start=12)  # action = relative joint positions
    out = tmp_path / "eval"
    args = [str(foreign), "--spec", str(PLAYGROUND_SPEC), str(SHIPPED), "--episodes", "2", "--duration", "0.3"]
    assert evaluate_main([*args, "--out", str(out)]) == 0
    comparison = json.loads((out / "comparison.json").read_text())
    assert sorted(comparison) == ["bh_policy", "policy"]
    reports = {k: json.loads((out / k / "report.json").read_text()) for k in comparison}
    ours = reports["policy"]
    # same envelope (the first policy's) and lags, so episode i meets the same physics in both
    assert reports["bh_policy"]["envelope"] == ours["envelope"]
    assert [c["lag_ms"] for c in reports["bh_policy"]["conditions"]] == [c["lag_ms"] for c in ours["conditions"]]
    keys = ("friction", "mass_scale", "payload_kg", "kp_scale", "command")  # same physics and commands
    for a, b in zip(reports["bh_policy"]["episodes"], ours["episodes"], strict=True):
        assert [a[k] for k in keys] == [b[k] for k in keys]
    assert (out / "comparison.png").stat().st_size > 1000
    capsys.readouterr()


def test_cli_without_a_spec_for_a_foreign_policy_is_one_clear_line(tmp_path, capsys):
    foreign = slice_onnx(tmp_path / "bh_policy.onnx")
    assert evaluate_main([str(foreign), str(SHIPPED), "--episodes", "1", "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an mjx_walker policy" in err[0] and "--spec FILE" in err[0]
    spec = str(PLAYGROUND_SPEC)
    assert evaluate_main([str(foreign), "--spec", spec, "--spec", spec, "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 --spec file(s) for 1 policy file(s) without mjx_walker metadata" in err[0]
    assert run_main([str(foreign), "--duration", "0.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--spec FILE" in err[0]
