"""The jax versions the project supports (no JAX compile).

pyproject.toml (its ``train`` extra) gives jax and jaxlib a range rather than one version, so that a GPU machine
(jax 0.11.2 preinstalled with its CUDA plugin) and Colab keep the CUDA jax they have. The range
must admit both versions the suite was run on, the jax running this suite, and the notebooks'
install cells must read the same range.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
TESTED = ("0.10.2", "0.11.2")  # the CPU venv (Python 3.11); the GPU machine and gpu_standin.sh (3.12)

tomllib = pytest.importorskip("tomllib")


def _requirements() -> dict[str, Requirement]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["train"]
    return {req.name: req for req in map(Requirement, deps)}


@pytest.mark.parametrize("name", ["jax", "jaxlib"])
def test_pyproject_range_admits_the_tested_versions_and_the_installed_one(name):
    spec = _requirements()[name].specifier
    assert all(spec.contains(v) for v in TESTED), (name, str(spec))
    assert not spec.contains("0.12.0"), "a release nobody ran the suite on"
    assert spec.contains(importlib.metadata.version(name)), f"this suite runs on {name} outside {spec}"


@pytest.mark.parametrize("name", ["01_train_walk.ipynb", "02_domain_randomization.ipynb"])
def test_notebook_install_cell_reads_the_same_range(name):
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    (cell,) = [c for c in nb.cells if "install" in c.metadata.get("tags", [])]
    assert "==0.10.2" not in cell.source
    code = cell.source.split("REPO_ROOT = find_repo_root()")[0]  # the definitions only
    scope: dict = {"Path": Path, "sys": sys}
    exec(code, scope)
    assert SpecifierSet(scope["jax_range"](ROOT)) == _requirements()["jax"].specifier


def test_flax_follows_jax():
    """flax 0.12.8's nnx (patched by jax2onnx at export) needs jax 0.10; jax 0.11 needs flax 0.12.11+."""
    spec = _requirements()["flax"].specifier
    assert spec.contains("0.12.8") and spec.contains("0.12.12"), str(spec)  # what jax 0.10.2 / 0.11.2 ran with
    assert not spec.contains("0.12.9") and not spec.contains("0.13.0"), str(spec)
    jax_minor = tuple(int(x) for x in importlib.metadata.version("jax").split(".")[:2])
    flax = tuple(int(x) for x in importlib.metadata.version("flax").split(".")[:3])
    assert flax >= (0, 12, 11) if jax_minor >= (0, 11) else flax == (0, 12, 8), (jax_minor, flax)
    import flax.nnx  # noqa: F401  (jax2onnx patches it: on a mismatched pair this import fails)
