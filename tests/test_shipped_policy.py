"""The policy shipped in models/ still loads, matches its ONNX, and fits today's observation layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from mjx_walker.observation import actor_layout
from mjx_walker.onnx_meta import read_meta
from mjx_walker.policy import load_policy

SHIPPED = Path(__file__).resolve().parent.parent / "models" / "policies" / "berkeley_humanoid_cpu"


def test_shipped_onnx_matches_its_jax_policy_and_current_layout():
    meta = read_meta(SHIPPED / "policy.onnx")
    layout = actor_layout(meta.action_dim)
    assert meta.obs_dim == layout.size
    assert [b["name"] for b in meta.obs_layout] == [name for name, _ in layout.blocks]
    policy = load_policy(SHIPPED)
    assert policy.env_cfg.robot.name == meta.robot == "berkeley_humanoid"
    obs = np.random.default_rng(0).normal(size=(8, meta.obs_dim)).astype(np.float32)
    session = ort.InferenceSession(str(SHIPPED / "policy.onnx"), providers=["CPUExecutionProvider"])
    onnx_action = session.run(None, {"obs": obs})[0]
    np.testing.assert_allclose(onnx_action, np.asarray(policy.act(obs)), atol=1e-4)
    assert np.abs(onnx_action).max() <= 1.0
