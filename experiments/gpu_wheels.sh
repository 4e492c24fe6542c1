#!/usr/bin/env bash
# Here, before the first device call: wheels and robot XML that experiments/gpu_run.sh installs on
# the GPU machine (which cannot download). The shared wheelhouse script fetches the project's
# pure-Python wheels and the robot's XML (no meshes); mujoco 4.0 moved its compiled core into the
# separate `mujoco-core` wheel, which that script does not fetch, so it is added here with the two
# small packages `import mujoco` needs (glfw; pyopengl for MUJOCO_GL=egl rendering), and sympy
# (with its mpmath), which onnx-ir (under jax2onnx, the export stage) imports and the device image
# lacks: found by experiments/gpu_standin.sh. Versions as in the tested CPU venv.
#   experiments/gpu_wheels.sh [ROBOT...]     (default berkeley_humanoid) -> .whl/ and .gpu-assets/
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .git/info
../shared/tools/gpu-wheelhouse.sh "${@:-berkeley_humanoid}"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  -d .whl mujoco-core==4.0.0 glfw pyopengl sympy==1.14.0 mpmath==1.3.0 2>&1 | grep -v '^WARNING' || true
du -sh .whl .gpu-assets
