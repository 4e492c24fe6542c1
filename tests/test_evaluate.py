"""Sim-to-sim evaluation: the report agrees with the episodes it ran."""

from __future__ import annotations

import json

import numpy as np
import pytest
from runner_helpers import exported_policy

from mjx_walker.evaluate import evaluate_policy, main, scaled_envelope


@pytest.fixture(scope="module")
def export(default_env):
    return exported_policy(default_env)


def test_report_consistent_with_episodes(tmp_path, export):
    report = evaluate_policy(export.path, tmp_path, episodes=2, shift=1.5, lag_ms=[0, 10], duration=0.6, seed=3)
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["overall"] == report["overall"]
    assert (tmp_path / "report.png").stat().st_size > 1000
    eps = on_disk["episodes"]
    assert len(eps) == 4 and [e["lag_substeps"] for e in eps] == [0, 0, 5, 5]
    falls = sum(e["fell"] for e in eps)
    assert on_disk["overall"]["falls"] == falls
    assert on_disk["overall"]["no_fall_rate"] == pytest.approx(1 - falls / 4)
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


def test_envelope_scaling():
    rnd = {
        "friction": [0.4, 1.0],
        "mass_scale": [0.9, 1.1],
        "payload_kg": [-0.5, 1.5],
        "kp_scale": [0.9, 1.1],
        "kd_scale": [0.9, 1.1],
    }
    assert scaled_envelope(rnd, 1.0)["friction"] == pytest.approx([0.4, 1.0])
    assert scaled_envelope(rnd, 2.0)["friction"] == pytest.approx([0.1, 1.3])
    assert scaled_envelope(rnd, 0.0)["mass_scale"] == pytest.approx([1.0, 1.0])


def test_cli_evaluate(tmp_path, export, capsys):
    assert (
        main([str(export.path), "--episodes", "1", "--lag-ms", "4", "--duration", "0.2", "--out", str(tmp_path)]) == 0
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["conditions"][0]["lag_ms"] == pytest.approx(4.0) and report["overall"]["episodes"] == 1
