"""Sim-to-sim evaluation: independent episodes, exact pinned physics, hand-checked measures, clear errors.

Everything here runs MuJoCo C and onnxruntime on the shipped policy (or a scripted fake backend):
no JAX compilation, no export.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from runner_helpers import ZeroPolicy, scripted_backend_class

from mjx_walker import evaluate as evaluate_module
from mjx_walker.evaluate import evaluate_policy, main, run_episode, scaled_envelope, summarize
from mjx_walker.evaluation import episode as episode_module
from mjx_walker.evaluation.conditions import Condition, EvaluationError, centre_values, parse_sweep
from mjx_walker.evaluation.draws import draw_episode
from mjx_walker.evaluation.metrics import tracking_errors, wilson95
from mjx_walker.evaluation.report import lag_notes, lag_substeps
from mjx_walker.model import build_robot_model
from mjx_walker.onnx_meta import read_meta
from mjx_walker.runner.inference import OnnxPolicy
from mjx_walker.runner.mujoco_backend import MuJoCoBackend, SimShift
from mjx_walker.runner.session import sim_config

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "models" / "policies" / "berkeley_humanoid_cpu" / "policy.onnx"
RANDOMIZATION = {
    "friction": [0.4, 1.0],
    "mass_scale": [0.9, 1.1],
    "payload_kg": [-0.5, 1.5],
    "kp_scale": [0.9, 1.1],
    "kd_scale": [0.9, 1.1],
}


@pytest.fixture(scope="module")
def policy():
    return OnnxPolicy(SHIPPED, verbose=False)


@pytest.fixture(scope="module")
def meta():
    return read_meta(SHIPPED)


def substep_ms(meta) -> float:
    """The shipped policy's physics substep in ms: lags are whole substeps of it."""
    return meta.sim_dt * 1000.0


def test_report_consistent_with_episodes(tmp_path, policy, meta):
    lag = 3 * substep_ms(meta)
    report = evaluate_policy(policy, tmp_path, episodes=2, shift=1.5, lag_ms=[0, lag], duration=0.6, seed=3)
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["overall"] == report["overall"]
    assert (tmp_path / "report.png").stat().st_size > 1000
    eps = on_disk["episodes"]
    assert len(eps) == 4 and [e["lag_substeps"] for e in eps] == [0, 0, 3, 3]
    falls = sum(e["fell"] for e in eps)
    assert on_disk["overall"]["falls"] == falls
    assert on_disk["overall"]["no_fall_rate"] == pytest.approx(1 - falls / 4)
    assert on_disk["overall"]["no_fall_ci95"] == pytest.approx(wilson95(4 - falls, 4))
    for cond in on_disk["conditions"]:
        group = [e for e in eps if e["lag_ms"] == cond["lag_ms"]]
        assert cond["episodes"] == 2
        assert cond["no_fall_rate"] == pytest.approx(1 - sum(e["fell"] for e in group) / 2)
        errs = [e["lin_vel_error"] for e in group if e["lin_vel_error"] is not None]
        if errs:
            assert cond["lin_vel_error"] == pytest.approx(np.mean(errs))
    assert on_disk["latency"]["calls"] == sum(e["policy_ticks"] for e in eps)
    env_box = on_disk["envelope"]
    for e in eps:
        for key in ("friction", "mass_scale", "payload_kg", "kp_scale", "kd_scale"):
            assert env_box[key][0] <= e[key] <= env_box[key][1]
        assert e["ticks"] <= 30
        assert (e["fall_time_s"] is not None) == e["fell"]
        if not e["fell"]:
            assert e["ticks"] == 30  # a survivor runs the whole 0.6 s
    # settle 2 s > 0.6 s episodes: no steady window, said so, measures null
    assert on_disk["settle_s"] == 2.0 and on_disk["notes"] and on_disk["overall"]["lin_vel_rms"] is None
    for key in ("no_fall_ci95", "lin_speed_error_mean", "lin_vel_rms", "yaw_rate_error_mean", "yaw_rate_rms"):
        assert key in on_disk["measures"] and key in on_disk["conditions"][0]


def test_envelope_scaling_about_either_centre():
    assert scaled_envelope(RANDOMIZATION, 1.0)["friction"] == pytest.approx([0.4, 1.0])
    assert scaled_envelope(RANDOMIZATION, 2.0)["friction"] == pytest.approx([0.1, 1.3])
    assert scaled_envelope(RANDOMIZATION, 0.0)["mass_scale"] == pytest.approx([1.0, 1.0])
    envelope_centre = centre_values(RANDOMIZATION, "envelope", floor_friction=0.6)
    nominal = centre_values(RANDOMIZATION, "nominal", floor_friction=0.6)
    assert envelope_centre["friction"] == pytest.approx(0.7) and envelope_centre["payload_kg"] == pytest.approx(0.5)
    assert nominal == {"friction": 0.6, "mass_scale": 1.0, "payload_kg": 0.0, "kp_scale": 1.0, "kd_scale": 1.0}
    at_nominal = scaled_envelope(RANDOMIZATION, 0.0, nominal)
    assert at_nominal["friction"] == pytest.approx([0.6, 0.6]) and at_nominal["payload_kg"] == pytest.approx([0, 0])
    assert scaled_envelope(RANDOMIZATION, 1.0, nominal)["payload_kg"] == pytest.approx([-0.5, 1.5])  # 1 = training
    assert scaled_envelope(RANDOMIZATION, 2.0, nominal)["payload_kg"] == pytest.approx([-1.0, 3.0])
    with pytest.raises(EvaluationError):
        centre_values(RANDOMIZATION, "middle", 0.6)


def test_same_physics_different_seeds_differ(tmp_path, policy, meta):
    """With noise off and identical physics, the start perturbation drawn from the seed separates episodes."""
    robot = build_robot_model(meta.robot, sim_config(meta))
    shift = SimShift()  # nominal physics, no lag, no sensor noise
    box = scaled_envelope(RANDOMIZATION, 0.0)

    def trajectory(seed: int) -> np.ndarray:
        draw = draw_episode(seed, 0, box, meta)
        ep = run_episode(
            policy, shift, [0.0, 0.0, 0.0], 0.5, True, perturbation=(draw.joint_offsets, draw.base_vel), robot=robot
        )
        return np.asarray(ep["qpos"])

    a, b, a_again = trajectory(0), trajectory(1), trajectory(0)
    assert a.shape == b.shape == (25, robot.mj_model.nq)
    assert np.abs(a - b).max() > 1e-3  # different seeds: different episodes
    np.testing.assert_array_equal(a, a_again)  # same seed: the same episode

    # Through evaluate_policy: every parameter pinned, noise off, one command: episodes still differ.
    pins = {"friction": 0.6, "mass_scale": 1.0, "payload_kg": 0.0, "kp_scale": 1.0, "kd_scale": 1.0}
    report = evaluate_policy(
        policy, tmp_path, 3, lag_ms=[0], duration=0.8, command=[0.0, 0.0, 0.0], noise_level=0.0, pinned=pins,
        settle_s=0.4,
    )  # fmt: skip
    eps = report["episodes"]
    assert all(e[k] == v for e in eps for k, v in pins.items())
    assert report["noise"]["level"] == 0.0
    rms = [e["lin_vel_rms"] for e in eps if not e["fell"]]
    assert len(set(rms)) == len(rms) >= 2


class RecordingBackend(MuJoCoBackend):
    """The real backend, remembering every instance the evaluation builds."""

    built: list[MuJoCoBackend] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        RecordingBackend.built.append(self)


def test_pinned_physics_reach_the_mujoco_model(tmp_path, monkeypatch, meta):
    monkeypatch.setattr(episode_module, "MuJoCoBackend", RecordingBackend)
    RecordingBackend.built = []
    args = [str(SHIPPED), "--friction", "0.3", "--mass-scale", "1.3", "--payload-kg", "3", "--kp-scale", "1.1"]
    lag = f"{2 * substep_ms(meta):g}"
    args += ["--kd-scale", "0.9", "--episodes", "2", "--duration", "0.1", "--lag-ms", lag, "--out", str(tmp_path)]
    assert main(args) == 0
    robot = build_robot_model(meta.robot, sim_config(meta))
    mass = robot.mj_model.body_mass.copy()
    mass[1:] *= 1.3
    mass[robot.torso_body] += 3.0
    assert len(RecordingBackend.built) == 2
    for backend in RecordingBackend.built:
        m = backend.model
        assert m.geom_friction[robot.floor_geom, 0] == 0.3
        np.testing.assert_array_equal(m.body_mass, mass)
        assert (backend.shift.kp_scale, backend.shift.kd_scale, backend.shift.lag_substeps) == (1.1, 0.9, 2)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["pinned"] == {"friction": 0.3, "mass_scale": 1.3, "payload_kg": 3.0, "kp_scale": 1.1, "kd_scale": 0.9}
    assert all(e["friction"] == 0.3 and e["payload_kg"] == 3.0 for e in report["episodes"])

    # A friction sweep pins each grid value in turn; the other draws stay paired across conditions.
    RecordingBackend.built = []
    sweep = [str(SHIPPED), "--sweep", "friction=0.2:0.4:0.1", "--episodes", "2", "--duration", "0.1"]
    assert main([*sweep, "--lag-ms", "0", "--out", str(tmp_path / "sweep")]) == 0
    frictions = [float(b.model.geom_friction[robot.floor_geom, 0]) for b in RecordingBackend.built]
    assert frictions == pytest.approx([0.2, 0.2, 0.3, 0.3, 0.4, 0.4])
    rows = json.loads((tmp_path / "sweep" / "report.json").read_text())["episodes"]
    assert [r["mass_scale"] for r in rows[0::2]] == [rows[0]["mass_scale"]] * 3  # episode 0 in every condition


def test_measures_hand_checked_on_scripted_backend(meta):
    """Three scripted episodes: two survivors with known velocities, one that falls at 0.3 s."""
    backend_class = scripted_backend_class()
    policy = ZeroPolicy(meta)
    assert meta.ctrl_dt == pytest.approx(0.02)
    fast = (5.0, 5.0, 5.0)  # before the settle time: must not count

    def wobbly(k: int) -> tuple[float, float, float]:
        """vx alternates 0.3 / 0.5 (mean 0.4), yaw 0.3 / -0.1 (mean 0.1) after tick 26."""
        return fast if k < 26 else ((0.3, 0.0, 0.3) if k % 2 == 0 else (0.5, 0.0, -0.1))

    def offset(k: int) -> tuple[float, float, float]:
        """A steady sideways drift of 0.2 m/s after tick 26, yaw exact."""
        return fast if k < 26 else (0.5, 0.2, 0.0)

    command = [0.5, 0.0, 0.0]
    episodes = []
    for script, fall_at in ((wobbly, None), (offset, None), (offset, 0.3)):

        def make(shift, perturbation, script=script, fall_at=fall_at):
            return backend_class(meta, script, fall_at)

        # 1 s = ticks 0..49; settle 0.51 s: the window is ticks 26..49 (24 ticks, 12 of each parity)
        episodes.append(run_episode(policy, SimShift(), command, 1.0, settle_s=0.51, make_backend=make))
    a, b, c = episodes
    assert a["steady_ticks"] == b["steady_ticks"] == 24 and not a["fell"] and not b["fell"]
    assert a["lin_speed_error_mean"] == pytest.approx(0.1)  # |0.4 - 0.5|
    assert a["lin_vel_rms"] == pytest.approx(math.sqrt(0.02))  # sqrt((0.2^2 + 0^2) / 2)
    assert a["yaw_rate_error_mean"] == pytest.approx(0.1)  # |0.1 - 0|
    assert a["yaw_rate_rms"] == pytest.approx(math.sqrt(0.05))  # sqrt((0.3^2 + 0.1^2) / 2)
    assert b["lin_speed_error_mean"] == pytest.approx(0.2) and b["lin_vel_rms"] == pytest.approx(0.2)
    assert b["yaw_rate_error_mean"] == pytest.approx(0.0) and b["yaw_rate_rms"] == pytest.approx(0.0)
    assert c["fell"] and c["fall_time_s"] == pytest.approx(0.3) and c["ticks"] == 16
    assert c["lin_vel_rms"] is None and c["lin_speed_error_mean"] is None  # survivors only
    # The legacy per-tick error counts the start-up: 26 fast ticks and 12 ticks 0.2 off, of 50.
    assert a["lin_vel_error"] == pytest.approx((26 * math.hypot(4.5, 5.0) + 12 * 0.2) / 50)

    s = summarize(episodes, settle_s=0.51)
    assert (s["episodes"], s["falls"], s["survivors"]) == (3, 1, 2)
    assert s["no_fall_rate"] == pytest.approx(2 / 3)
    assert s["no_fall_ci95"] == pytest.approx([0.2077, 0.9385], abs=1e-4)  # Wilson, 2 of 3
    assert s["lin_speed_error_mean"] == pytest.approx((0.1 + 0.2) / 2)
    assert s["lin_vel_rms"] == pytest.approx((math.sqrt(0.02) + 0.2) / 2)
    assert s["yaw_rate_error_mean"] == pytest.approx(0.05)
    assert s["yaw_rate_rms"] == pytest.approx(math.sqrt(0.05) / 2)


def test_wilson_interval_by_hand():
    # p = 2/3, n = 3, z = 1.96: centre (p + z²/2n) / (1 + z²/n) = 0.5731, half-width 0.3654
    assert wilson95(2, 3) == pytest.approx([0.20765, 0.93851], abs=1e-5)
    assert wilson95(10, 10) == pytest.approx([0.72246, 1.0], abs=1e-5)  # all survive: low = n / (n + z²)
    assert wilson95(0, 5) == pytest.approx([0.0, 0.43449], abs=1e-5)  # none survives: high = z² / (n + z²)
    assert wilson95(0, 0) is None


def test_tracking_window_edges():
    t = [0.0, 1.0, 2.0, 3.0]
    v = [[9, 9], [9, 9], [1.0, 0.0], [1.0, 0.0]]
    out = tracking_errors(t, v, [0, 0, 0, 0], [1.0, 0.0, 0.0], settle_s=2.0)
    assert out["steady_ticks"] == 2 and out["lin_vel_rms"] == 0.0 and out["lin_speed_error_mean"] == 0.0
    assert tracking_errors(t, v, [0] * 4, [1.0, 0.0, 0.0], settle_s=5.0)["lin_vel_rms"] is None


def test_lags_are_whole_substeps_and_a_rounded_one_is_noted():
    assert [lag_substeps(ms, 0.004) for ms in (0, 4, 10, 14, 16)] == [0, 1, 2, 4, 4]  # 2.5 rounds to even
    notes = lag_notes([Condition(0.0), Condition(10.0), Condition(10.0, push_mps=0.5), Condition(16.0)], 0.004)
    assert notes == ["lag 10 ms runs as 8 ms: lags are whole physics substeps of 4 ms"]


def test_sweep_grammar():
    assert parse_sweep("lag_ms=0:100:20").values == (0, 20, 40, 60, 80, 100)
    assert parse_sweep("friction=0.2:0.4:0.1").values == pytest.approx((0.2, 0.3, 0.4))
    assert parse_sweep("payload-kg=0,1.5,3").values == (0.0, 1.5, 3.0)
    for bad in ("lag=0:1:1", "lag_ms=10:0:5", "lag_ms=0:10:0", "friction=-1:1:1", "mass_scale=a,b", "push_mps"):
        with pytest.raises(EvaluationError):
            parse_sweep(bad)


def test_push_is_applied_once_at_its_time(tmp_path, policy):
    report = evaluate_policy(
        policy, tmp_path, 2, lag_ms=[0], duration=0.5, command=[0, 0, 0], push_mps=0.4, push_time_s=0.2, settle_s=0
    )
    for e in report["episodes"]:
        assert e["push_at_s"] == pytest.approx(0.2)
        assert np.hypot(*e["push_velocity"]) == pytest.approx(0.4)
    first, second = (e["push_velocity"] for e in report["episodes"])
    assert first != second  # the direction is drawn per episode


def test_cli_sweep_several_policies(tmp_path, capsys, meta):
    step = 2 * substep_ms(meta)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "policy.onnx").write_bytes(SHIPPED.read_bytes())
    paths = [str(tmp_path / n / "policy.onnx") for n in ("a", "b")]
    out = tmp_path / "eval"
    sweep = f"lag_ms=0:{2 * step:g}:{step:g}"
    assert main([*paths, "--sweep", sweep, "--episodes", "1", "--duration", "0.3", "--out", str(out)]) == 0
    assert (out / "comparison.png").stat().st_size > 1000
    comparison = json.loads((out / "comparison.json").read_text())
    assert sorted(comparison) == ["a_policy", "b_policy"]
    for label in comparison:
        report = json.loads((out / label / "report.json").read_text())
        assert report["sweep"] == {"name": "lag_ms", "values": pytest.approx([0.0, step, 2 * step])}
        assert [c["lag_ms"] for c in report["conditions"]] == pytest.approx([0.0, step, 2 * step])
    # same draws for both policies (the same file twice): identical outcomes
    assert comparison["a_policy"]["conditions"] == comparison["b_policy"]["conditions"]
    assert "no-fall" in capsys.readouterr().out


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    import onnx
    from onnx import TensorProto, helper

    root = tmp_path_factory.mktemp("bad")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "foreign", [x], [y])
    onnx.save(helper.make_model(graph), str(root / "foreign.onnx"))
    (root / "corrupt.onnx").write_bytes(b"\x08\x07garbage\xff\xfe not an onnx file")
    return {
        "foreign": (root / "foreign.onnx", "not an mjx_walker policy"),
        "corrupt": (root / "corrupt.onnx", "not an ONNX model"),
        "missing": (root / "missing.onnx", "no such file"),
    }


@pytest.mark.parametrize("kind", ["foreign", "corrupt", "missing"])
def test_bad_policy_file_is_one_line_exit_2(tmp_path, capsys, bad_files, kind):
    path, words = bad_files[kind]
    assert main([str(path), "--out", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and words in lines[0], captured.err
    assert "export it" not in lines[0] and captured.out == ""


@pytest.mark.parametrize(
    "extra",
    [["--sweep", "speed=0:1:1"], ["--lag-ms", "a,b"], ["--friction", "-1"], ["--episodes", "0"], ["--command", "1,2"]],
)
def test_bad_argument_is_one_line_exit_2(tmp_path, capsys, extra):
    with pytest.raises(SystemExit) as exit_info:
        code = main([str(SHIPPED), "--out", str(tmp_path), "--duration", "0.1", *extra])
        raise SystemExit(code)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python -m mjx_walker.evaluate: error:")


def _cli(*args: str) -> subprocess.CompletedProcess:
    """Run ``python -m <args>`` from the repository root (a fresh interpreter: imports as a user's)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, env=env)


def test_no_warp_notice_on_any_cli(bad_files):
    for module in ("mjx_walker.evaluate", "mjx_walker.export", "mjx_walker.run", "mjx_walker.train"):
        proc = _cli(module, "--help")
        assert proc.returncode == 0, proc.stderr
        assert "Failed to import" not in proc.stdout + proc.stderr, module
    proc = _cli("mjx_walker.evaluate", str(bad_files["foreign"][0]))
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "not an mjx_walker policy" in proc.stderr


def test_warp_filter_drops_only_the_absent_warp_notice(capsys):
    from mjx_walker._quiet import _QuietLoader

    class Noisy:
        def create_module(self, spec):
            return None

        def exec_module(self, module):
            print("Failed to import warp: No module named 'warp'")
            print("Failed to import mujoco_warp: No module named 'warp'")
            print("Failed to import warp: CUDA driver too old")
            print("something else")

    _QuietLoader(Noisy()).exec_module(None)
    assert capsys.readouterr().out == "Failed to import warp: CUDA driver too old\nsomething else\n"


def test_bundled_ffmpeg_when_none_on_path(monkeypatch):
    import imageio_ffmpeg
    import mediapy

    from mjx_walker.runner import render

    chosen = []
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    monkeypatch.setattr(mediapy, "set_ffmpeg", chosen.append)
    render.use_bundled_ffmpeg()
    assert chosen == [imageio_ffmpeg.get_ffmpeg_exe()] and Path(chosen[0]).is_file()


def test_library_api_kept():
    for name in ("evaluate_policy", "run_episode", "scaled_envelope", "summarize", "sample_command", "render_video"):
        assert hasattr(evaluate_module, name)


def test_a_command_outside_the_trained_box_runs_only_when_asked(tmp_path):
    with pytest.raises(EvaluationError, match=r"lin_vel_x = -0.5.*--outside-box"):
        evaluate_policy(SHIPPED, tmp_path / "refused", episodes=1, duration=0.2, command=[-0.5, 0.0, 0.0])
    report = evaluate_policy(
        SHIPPED, tmp_path / "ran", episodes=1, duration=0.2, lag_ms=[0.0], command=[-0.5, 0.0, 0.0], outside_box=True
    )
    assert report["outside_trained_box"] == {"lin_vel_x": [-0.5, [0.0, 0.6]]}
    inside = evaluate_policy(SHIPPED, tmp_path / "inside", episodes=1, duration=0.2, lag_ms=[0.0], command=[0.3, 0, 0])
    assert inside["outside_trained_box"] is None


def test_backlash_conditions_reach_the_simulated_robot(tmp_path, monkeypatch):
    sweep = parse_sweep("backlash_deg=0:1:0.5")
    assert sweep.values == (0.0, 0.5, 1.0)
    with pytest.raises(EvaluationError, match="backlash_deg"):
        parse_sweep("backlash_deg=0,20")
    seen = []
    real = episode_module.run_episode

    def spy(policy, shift, *args, **kwargs):
        seen.append(shift.backlash_rad)
        return real(policy, shift, *args, **kwargs)

    monkeypatch.setattr("mjx_walker.evaluation.report.run_episode", spy)
    report = evaluate_policy(SHIPPED, tmp_path, episodes=1, duration=0.2, lag_ms=[0.0], sweep=sweep)
    np.testing.assert_allclose(seen, np.radians([0.0, 0.5, 1.0]))
    assert [c["backlash_deg"] for c in report["conditions"]] == [0.0, 0.5, 1.0]
