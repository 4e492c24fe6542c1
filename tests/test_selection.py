"""The trainer's own checkpoint selection: the ranking with set verdicts, then once for real in MuJoCo C."""

from __future__ import annotations

import json

import jax
import numpy as np

from mjx_walker import checkpointing as ck
from mjx_walker import selection
from mjx_walker.policy import load_policy
from mjx_walker.presets import get_preset


def _checkpoints(root, steps, preset="test"):
    """Untrained checkpoints at ``steps``, each with its actor's weights shifted by its index."""
    env, ppo = get_preset("berkeley_humanoid", preset)
    _, normalizer, policy, value = ck.param_templates(env, ppo)
    for i, step in enumerate(steps):
        shifted = jax.tree.map(lambda x, i=i: np.asarray(x) + 0.01 * i, policy)
        ck.save_checkpoint(root, step, i + 1, (normalizer, shifted, value), env, ppo)


def _first_weight(policy_params):
    return np.asarray(jax.tree.leaves(policy_params)[0]).ravel()[0]


def test_fewest_falls_then_within_the_error_limits_then_latest(tmp_path, monkeypatch):
    stage = tmp_path / "finish"
    _checkpoints(stage / "checkpoints", [100, 200, 300, 400])
    verdicts = {100: (0.0, 0.5), 200: (0.1, 0.2), 300: (0.0, 0.7), 400: (0.0, 0.5)}

    def judged(ckpt, out, episodes):
        return {"walks": False, "conditions": [], "score": list(verdicts[int(ckpt.name)])}

    monkeypatch.setattr(selection, "judge_checkpoint", judged)
    record = selection.select_policy(tmp_path, stage, count=3)  # 100 is not among the last three
    assert [c["env_steps"] for c in record["candidates"]] == [200, 300, 400]
    assert record["chosen"] == 400 and record["last"] == 400  # no falls, and the latest
    verdicts[400] = (0.0, 0.8)
    record = selection.select_policy(tmp_path, stage, count=3)
    assert record["chosen"] == 400  # a larger error within the bar's limits does not matter
    verdicts[400] = (0.0, 1.3)  # beyond them it does
    record = selection.select_policy(tmp_path, stage, count=3)
    assert record["chosen"] == 300
    assert json.loads((tmp_path / selection.SELECTION_FILE).read_text())["chosen"] == 300
    chosen = ck.policy_from_checkpoint(ck.step_dir(stage / "checkpoints", 300))
    written = load_policy(tmp_path / "policy")
    assert _first_weight(written.params) == _first_weight(chosen.params)  # the run's policy is that checkpoint


def test_selection_judges_in_mujoco_c(tmp_path):
    """Untrained walking-preset candidates, one episode per condition: exported, evaluated, recorded."""
    stage = tmp_path / "main"
    _checkpoints(stage / "checkpoints", [10, 20], preset="cpu")
    record = selection.select_policy(tmp_path, stage, count=2, episodes=1)
    assert record["chosen"] in (10, 20)
    for cand in record["candidates"]:
        assert {(r["commands"], r["lag_ms"]) for r in cand["conditions"]} == {
            ("forward", 0.0),
            ("forward", 16.0),
            ("random", 0.0),
            ("random", 16.0),
        }
        assert (tmp_path / "selection" / str(cand["env_steps"]) / "policy.onnx").is_file()
    assert (tmp_path / "policy").is_dir()
