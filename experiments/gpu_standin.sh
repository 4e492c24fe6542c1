#!/usr/bin/env bash
# The GPU machine's command on this CPU, with the GPU machine's own software: a Python 3.12 venv
# holding what the offline GPU machine has preinstalled (jax/jaxlib 0.11.2 -- the CPU build here --,
# numpy 2.5.2, onnx 1.23.1, onnxruntime 1.30.0, flax, optax, orbax-checkpoint, ...) and nothing
# else, so that experiments/gpu_run.sh must install mujoco, brax and jax2onnx from the carried
# .whl/ (pip --no-index, offline) and take the robot XML from .gpu-assets/, exactly as there.
# Then experiments/gpu_standin.py makes the remote calls (gpu_run.sh --size tiny, 540 s budget
# each, the bundle carried from call to call) until every stage is done, prints PASS or FAIL and
# records the outcome in experiments/results/gpu_standin_<device>_<date>.json.
#
#   bash experiments/gpu_wheels.sh              # once: .whl/ and .gpu-assets/
#   bash experiments/gpu_standin.sh [--calls 4] [--keep] [--cache DIR] [gpu_run.sh arguments, e.g. --budget-s 1500]
# (--cache: a JAX compile cache to reuse; on a busy 2-core CPU jax 0.11 may need --budget-s 1500:
# its compiles take about twice as long as jax 0.10's there)
#
# The venv is built once (needs PyPI) in $MJX_WALKER_STANDIN_VENV (default
# ~/.cache/mjx_walker/gpu_standin_venv) and reused while it still matches; $PYTHON312 names the
# Python 3.12 to build it with (default: python3.12 on PATH, else a pyenv 3.12).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${MJX_WALKER_STANDIN_VENV:-$HOME/.cache/mjx_walker/gpu_standin_venv}
# The device image's packages (versions given where the device's are known).
pins=(jax==0.11.2 jaxlib==0.11.2 numpy==2.5.2 onnx==1.23.1 onnxruntime==1.30.0 flax optax orbax-checkpoint
  chex etils tensorstore matplotlib tqdm scipy msgpack rich pyyaml absl-py pillow)
# A venv matches when it is Python 3.12 with those versions and has none of what the wheels bring.
check='
import importlib.metadata as md, importlib.util as iu, sys
want = {"jax": "0.11.2", "jaxlib": "0.11.2", "numpy": "2.5.2", "onnx": "1.23.1", "onnxruntime": "1.30.0"}
assert sys.version_info[:2] == (3, 12), sys.version
bad = {k: md.version(k) for k in want if md.version(k) != want[k]}
assert not bad, f"versions differ: {bad}"
extra = [m for m in ("mujoco", "brax", "jax2onnx", "mjx_walker") if iu.find_spec(m)]
assert not extra, f"has {extra} installed: the device gets these from the carried wheels only"
'
[ -d .whl ] && [ -d .gpu-assets ] || { echo "no .whl/ or .gpu-assets/: run bash experiments/gpu_wheels.sh first" >&2; exit 2; }
if ! why=$(cd / && env -u PYTHONPATH "$venv/bin/python" -c "$check" 2>&1); then
  if [ -x "$venv/bin/python" ]; then
    echo "venv $venv does not match the GPU machine: ${why##*$'\n'}" >&2
    [ -n "${MJX_WALKER_STANDIN_VENV:-}" ] && { echo "fix or remove it (it was given in MJX_WALKER_STANDIN_VENV)" >&2; exit 2; }
  fi
  py312=
  for cand in "${PYTHON312:-}" "$(command -v python3.12 || true)" /root/.pyenv/versions/3.12*/bin/python3.12; do
    if [ -n "$cand" ] && [ -x "$cand" ] && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
      py312=$cand
      break
    fi
  done
  [ -n "$py312" ] || { echo "no Python 3.12 found: set PYTHON312" >&2; exit 2; }
  echo "building the GPU machine's software in $venv with $py312 (once)"
  "$py312" -m venv --clear "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q "${pins[@]}"
  (cd / && env -u PYTHONPATH "$venv/bin/python" -c "$check")
fi
exec env -u PYTHONPATH "$venv/bin/python" experiments/gpu_standin.py "$@"
