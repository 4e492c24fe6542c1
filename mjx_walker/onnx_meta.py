"""Self-description of an exported ONNX policy: everything the runner needs, as metadata.

The metadata lives in the ONNX file's ``metadata_props``: one key per field, each value JSON.
The runner reads it back with :func:`meta_from_props` (from onnxruntime's view of the file, so a
robot needs neither ``onnx`` nor JAX) and needs nothing else (it may rebuild the MuJoCo model for
its simulated backend from ``robot``); :func:`read_meta` does the same from a file with ``onnx``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mjx_walker import gait, run_dir
from mjx_walker.configs import EnvConfig, to_dict

if TYPE_CHECKING:  # the reader half of this module runs on the robot: no JAX, no MJX, no onnx
    import onnx

    from mjx_walker.model import RobotModel
    from mjx_walker.ppo_config import PPOConfig

SCHEMA_VERSION = 1
SCHEMA_KEY = "mjx_walker.schema"
INPUT_NAME = "obs"  # (batch, obs_dim) float32
OUTPUT_NAME = "action"  # (batch, action_dim) float32 in [-1, 1]


@dataclass(frozen=True)
class PolicyMeta:
    """What an exported policy says about itself (all lists, JSON-ready)."""

    robot: str
    joint_names: list[str]  # actuated joints, in action order
    default_joint_pos: list[float]  # (nu,) rad
    action_scale: float  # rad of PD target offset per unit of action
    kp: list[float]  # (nu,) N·m/rad
    kd: list[float]  # (nu,) N·m·s/rad
    torque_limit: list[float]  # (nu,) N·m
    joint_lower: list[float]  # (nu,) rad
    joint_upper: list[float]  # (nu,) rad
    ctrl_dt: float  # s, control period
    sim_dt: float  # s, physics substep in training
    solver_iterations: int  # constraint solver iterations in training (SimConfig)
    solver_ls_iterations: int  # line-search iterations in training (SimConfig)
    obs_layout: list[dict[str, Any]]  # [{name, start, size, scale, noise}]
    obs_dim: int
    action_dim: int
    command_ranges: dict[str, list[float]]  # lin_vel_x, lin_vel_y (m/s), yaw_rate (rad/s)
    gait_frequency_hz: float  # deployment stepping frequency (midpoint of the training range)
    gait_frequency_range_hz: list[float]
    initial_gait_phase: list[float]  # (2,) rad, left and right
    max_tilt_rad: float  # training termination tilt
    min_height_fraction: float  # training termination height / standing height
    randomization: dict[str, Any]  # training RandomizationConfig, for the sim-to-sim envelope
    noise: dict[str, Any]  # training NoiseConfig (the exported observation itself is noise-free)
    config_digest: str  # sha256 of the JSON {env, ppo} config
    versions: dict[str, str]
    opset: int = 17
    ir_version: int = 9
    parity_max_abs_diff: float = float("nan")
    parity_tolerance: float = float("nan")
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def nu(self) -> int:
        """Number of actuated joints."""
        return len(self.joint_names)

    def array(self, name: str) -> np.ndarray:
        """A list field as float64 NumPy array."""
        return np.asarray(getattr(self, name), dtype=np.float64)


def config_digest(env_cfg: EnvConfig, ppo_cfg: PPOConfig) -> str:
    """Sha256 hex of ``json.dumps({"env": ..., "ppo": ...}, sort_keys=True)``."""
    blob = json.dumps({"env": to_dict(env_cfg), "ppo": to_dict(ppo_cfg)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shaped the export (:data:`mjx_walker.run_dir.PACKAGES`)."""
    return {k: v for k, v in run_dir.package_versions().items() if k != "python" and v != "not installed"}


def build_meta(env_cfg: EnvConfig, ppo_cfg: PPOConfig, robot: RobotModel) -> PolicyMeta:
    """Metadata of a policy trained with ``env_cfg`` on ``robot``."""
    from mjx_walker.observation import actor_layout  # export side only (imports JAX)

    layout = actor_layout(robot.nu)
    cmd = env_cfg.command
    freq = [float(v) for v in cmd.gait_frequency_hz]
    return PolicyMeta(
        robot=env_cfg.robot.name,
        joint_names=list(robot.joint_names),
        default_joint_pos=robot.default_joint_pos.astype(float).tolist(),
        action_scale=float(env_cfg.robot.action_scale),
        kp=np.asarray(robot.kp, float).tolist(),
        kd=np.asarray(robot.kd, float).tolist(),
        torque_limit=np.asarray(robot.torque_limit, float).tolist(),
        joint_lower=robot.joint_lower.astype(float).tolist(),
        joint_upper=robot.joint_upper.astype(float).tolist(),
        ctrl_dt=float(env_cfg.sim.ctrl_dt),
        sim_dt=float(env_cfg.sim.sim_dt),
        solver_iterations=int(env_cfg.sim.iterations),
        solver_ls_iterations=int(env_cfg.sim.ls_iterations),
        obs_layout=[dict(b, scale=1.0, noise=0.0) for b in layout.to_json()],
        obs_dim=layout.size,
        action_dim=robot.nu,
        command_ranges={
            "lin_vel_x": list(cmd.lin_vel_x),
            "lin_vel_y": list(cmd.lin_vel_y),
            "yaw_rate": list(cmd.yaw_rate),
        },
        gait_frequency_hz=(freq[0] + freq[1]) / 2,
        gait_frequency_range_hz=freq,
        initial_gait_phase=list(gait.INITIAL_PHASE),
        max_tilt_rad=float(cmd.max_tilt_rad),
        min_height_fraction=float(cmd.min_height_fraction),
        randomization=_jsonable(to_dict(env_cfg.randomization)),
        noise=_jsonable(to_dict(env_cfg.noise)),
        config_digest=config_digest(env_cfg, ppo_cfg),
        versions=package_versions(),
    )


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


def write_meta(model: onnx.ModelProto, meta: PolicyMeta) -> None:
    """Replace the model's metadata_props with ``meta`` (one JSON value per field)."""
    import onnx

    del model.metadata_props[:]
    onnx.helper.set_model_props(
        model,
        {SCHEMA_KEY: str(SCHEMA_VERSION)}
        | {f.name: json.dumps(getattr(meta, f.name)) for f in dataclasses.fields(meta)},
    )


class PolicyFileError(ValueError):
    """The file is not an mjx_walker policy: missing, not ONNX, or ONNX without our metadata."""


def load_model(path: str | os.PathLike, load_external_data: bool = True) -> onnx.ModelProto:
    """The ONNX model at ``path``; PolicyFileError (one line) if it is missing or does not parse."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise PolicyFileError(f"{path}: no such file")
    try:
        return onnx.load(str(path), load_external_data=load_external_data)
    except Exception as err:  # protobuf's DecodeError, or anything else a foreign file triggers
        raise PolicyFileError(f"{path}: not an ONNX model ({type(err).__name__}: {err})") from err


def read_meta(model: onnx.ModelProto | str | os.PathLike | bytes, source: str | None = None) -> PolicyMeta:
    """PolicyMeta from an ONNX model, path or serialized bytes; PolicyFileError if it has none.

    ``source`` (e.g. the file's path) prefixes the error messages; paths prefix themselves.
    """
    import onnx

    if isinstance(model, bytes):
        try:
            model = onnx.load_from_string(model)
        except Exception as err:
            raise PolicyFileError(f"{source or 'bytes'}: not an ONNX model ({err})") from err
    elif not isinstance(model, onnx.ModelProto):
        source = source or str(model)
        model = load_model(model, load_external_data=False)
    return meta_from_props({p.key: p.value for p in model.metadata_props}, source)


def meta_from_props(props: dict[str, str], source: str | None = None) -> PolicyMeta:
    """PolicyMeta from an ONNX file's metadata_props (key -> JSON text); PolicyFileError if it has none.

    onnxruntime exposes the same map as ``session.get_modelmeta().custom_metadata_map``.
    """
    where = f"{source}: " if source else ""
    if SCHEMA_KEY not in props:
        raise PolicyFileError(
            f"{where}an ONNX model, but not an mjx_walker policy (no mjx_walker metadata: "
            f"{SCHEMA_KEY!r} is missing from its metadata_props); for a policy trained elsewhere, describe "
            "it in a policy spec and pass --spec FILE (see mjx_walker.policy_spec)"
        )
    if props[SCHEMA_KEY] != str(SCHEMA_VERSION):
        raise PolicyFileError(
            f"{where}mjx_walker metadata schema {props[SCHEMA_KEY]} is not the supported {SCHEMA_VERSION}; "
            "use the mjx_walker version that exported it, or re-export the run with this one"
        )
    names = {f.name for f in dataclasses.fields(PolicyMeta)}
    missing = sorted(n for n in names if n not in props and n != "extra")
    if missing:
        raise PolicyFileError(f"{where}mjx_walker metadata lacks fields {missing}")
    try:
        return PolicyMeta(**{k: json.loads(v) for k, v in props.items() if k in names})
    except (json.JSONDecodeError, TypeError) as err:
        raise PolicyFileError(f"{where}mjx_walker metadata does not parse ({err})") from err
