"""The Colab notebooks run top to bottom in a real kernel at the tiny size, and do what they say.

Each notebook is executed by nbclient (kernel ``python3``, working directory ``notebooks/``) with
``MJX_WALKER_NOTEBOOK_SIZE=tiny`` and ``MJX_WALKER_NOTEBOOK_OUT`` pointing at a temp dir, so
nothing is written into the repository. 01 trains the ``test`` preset, whose compiled training
step it shares with tests/test_train_slow.py through the persistent JAX cache (same folder).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import jax
import nbformat
import pytest
from nbclient import NotebookClient

from mjx_walker.configs import RandomizationConfig

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ("01_train_walk.ipynb", "02_domain_randomization.ipynb")
CELL_TIMEOUT_S = 1200  # a cold compile of the tiny training step takes 2-3 minutes on 2 cores


def _files_next_to_notebooks() -> list[Path]:
    return sorted(p for p in NOTEBOOKS.rglob("*") if ".ipynb_checkpoints" not in p.parts)


def execute(name: str, out: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    """Run a notebook at the tiny size with its outputs under ``out``; return the executed notebook."""
    monkeypatch.setenv("MJX_WALKER_NOTEBOOK_SIZE", "tiny")
    monkeypatch.setenv("MJX_WALKER_NOTEBOOK_OUT", str(out))
    monkeypatch.setenv("MJX_WALKER_JAX_CACHE", str(jax.config.jax_compilation_cache_dir))  # conftest's cache
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    before = _files_next_to_notebooks()
    start = time.monotonic()
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    print(f"{name}: executed in {time.monotonic() - start:.0f} s")
    assert _files_next_to_notebooks() == before, "the notebook wrote files next to itself"
    return nb


def cell(nb: nbformat.NotebookNode, tag: str) -> nbformat.NotebookNode:
    """The one code cell carrying ``tag``."""
    found = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, (tag, len(found))
    return found[0]


def text(c: nbformat.NotebookNode) -> str:
    """Everything a cell printed (stdout, stderr, plain-text results)."""
    parts = []
    for out in c.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
    return "".join(parts)


def images(c: nbformat.NotebookNode) -> int:
    """How many images (PNG outputs, or inline images/videos in HTML) a cell displayed."""
    count = 0
    for out in c.outputs:
        if out.output_type in ("execute_result", "display_data"):
            count += "image/png" in out.data
            html = out.data.get("text/html", "")
            count += html.count("<img") + html.count("<video")
    return count


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_clean(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code), "clear outputs before saving"
    assert nb.metadata.kernelspec.name == "python3"
    params = cell(nb, "parameters").source
    assert "MJX_WALKER_NOTEBOOK_SIZE" in params and "MJX_WALKER_NOTEBOOK_OUT" in params
    assert "enable_compilation_cache()" in "".join(c.source for c in code[:4])  # early


@pytest.mark.slow
def test_01_train_walk_tiny(tmp_path, monkeypatch):
    nb = execute("01_train_walk.ipynb", tmp_path, monkeypatch)
    assert "not on Colab" in text(cell(nb, "install"))
    device = text(cell(nb, "device"))
    assert f"backend {jax.default_backend()}" in device and ("GPU found" in device or "No GPU" in device)

    from mjx_walker import checkpointing as ck
    from mjx_walker import run_dir as rd
    from mjx_walker.onnx_meta import read_meta
    from mjx_walker.presets import get_preset

    (run,) = tmp_path.iterdir()
    assert run.name.startswith("notebook-berkeley_humanoid-test-")
    _, ppo = get_preset("berkeley_humanoid", "test")
    assert rd.read_config(run)["ppo"]["num_envs"] == ppo.num_envs
    assert ck.complete_steps(run / rd.CHECKPOINTS) == [20480, 40960]
    assert (run / "policy" / "policy.json").is_file()
    rows = rd.read_metrics(run)
    assert [r["env_steps"] for r in rows] == [0, 20480, 40960]
    curves = text(cell(nb, "curves"))
    assert f"episode length {rows[0]['episode_length']:.1f} -> {rows[-1]['episode_length']:.1f}" in curves
    assert images(cell(nb, "curves")) == 1

    meta = read_meta(run / "policy.onnx")
    assert meta.robot == "berkeley_humanoid" and meta.parity_max_abs_diff <= 1e-4
    assert images(cell(nb, "render")) >= 1  # a video, or still frames without ffmpeg

    report = json.loads((run / "eval" / "report.json").read_text())
    assert report["overall"]["episodes"] == 1 and len(report["episodes"]) == 1
    assert report["duration_s"] == 2.0 and [c["lag_ms"] for c in report["conditions"]] == [0.0]
    assert (run / "eval" / "report.png").stat().st_size > 1000
    evaluated = text(cell(nb, "evaluate"))
    assert f"overall: 1 episodes, {report['overall']['falls']} falls" in evaluated
    assert images(cell(nb, "evaluate")) == 1
    print(f"episode length {rows[0]['episode_length']:.1f} -> {rows[-1]['episode_length']:.1f}; eval {evaluated}")


def test_02_domain_randomization_tiny(tmp_path, monkeypatch):
    nb = execute("02_domain_randomization.ipynb", tmp_path, monkeypatch)
    assert "not on Colab" in text(cell(nb, "install"))
    assert images(cell(nb, "histograms")) == 1

    checked = text(cell(nb, "range-check"))
    table = re.findall(r"^(\w+)\s+\[\S+, \S+\]\s+(\d+)\s+\S+\s+\S+\s+(\d+)$", checked, re.MULTILINE)
    assert {name for name, _, _ in table} == {
        "friction",
        "mass_scale",
        "payload_kg",
        "com_offset_m",
        "kp_scale",
        "kd_scale",
        "armature_scale",
        "damping_scale",
        "frictionloss_scale",
        "lag_substeps",
    }
    lag_lo, lag_hi = RandomizationConfig().lag_substeps
    for name, values, distinct in table:
        assert int(values) >= 64, name
        # continuous parameters differ in every env; the integer lag takes each of its values
        assert int(distinct) == (min(64, lag_hi - lag_lo + 1) if name == "lag_substeps" else 64), (name, distinct)
    assert "range check passed: 10 parameters x 64 envs" in checked

    shifts = {0.0: 0.0, 1.0: 16.0, 2.0: 32.0, 3.0: 48.0}  # shift -> lag ms (shift x the 16 ms training maximum)
    for shift, lag_ms in shifts.items():
        report = json.loads((tmp_path / f"shift-{shift:g}" / "report.json").read_text())
        assert report["shift"] == shift and report["duration_s"] == 2.0
        assert report["overall"]["episodes"] == 1
        assert [c["lag_ms"] for c in report["conditions"]] == [pytest.approx(lag_ms)]
        assert report["policy"].endswith("models/policies/berkeley_humanoid_cpu/policy.onnx")
    assert len(re.findall(r"^shift \S+, lag \S+ ms: 1 episodes", text(cell(nb, "evaluate")), re.MULTILINE)) == 4
    assert images(cell(nb, "shift-plot")) == 1
    ablation = text(cell(nb, "ablation"))
    assert "python experiments/dr_ablation.py" in ablation or images(cell(nb, "ablation")) == 1 or "skipped" in ablation
