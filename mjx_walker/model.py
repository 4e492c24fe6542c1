"""Build a robot's MuJoCo model and resolve, by name, every index the task needs.

The build is plain Python/NumPy and runs once, before anything is traced:

1. parse the robot's MuJoCo Playground scene from the asset package with ``MjSpec``;
2. delete visual-only mesh geoms and their meshes (MJX never collides with them; they carry no
   mass in these models, and deleting them lets the model load without mesh files);
3. apply ``mjx_walker/assets/scene_overrides.xml`` and the :class:`~mjx_walker.configs.SimConfig` timing;
4. turn every position actuator into a torque motor, remembering its kp/kd: the PD law runs in
   :mod:`mjx_walker.pd` so that lag, gain randomization and the robot runner share one formula.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from mjx_walker.configs import SimConfig, TerrainConfig
from mjx_walker.robots import RobotSpec, get_robot, scene_path
from mjx_walker.terrain import add_to_spec
from mjx_walker.terrain import heightfield as terrain_field

OVERRIDES_XML = Path(__file__).resolve().parent / "assets" / "scene_overrides.xml"  # package data
_OPTION_ENUMS = {
    "integrator": {"Euler": 0, "RK4": 1, "implicit": 2, "implicitfast": 3},
    "cone": {"pyramidal": 0, "elliptic": 1},
}


@dataclass(frozen=True)
class RobotModel:
    """A compiled robot model plus every name resolved to an index (all NumPy, all static)."""

    spec: RobotSpec
    mj_model: mujoco.MjModel
    joint_names: tuple[str, ...]  # actuated joints, in action order
    qpos_adr: np.ndarray  # (nu,) int, qpos index of each actuated joint
    dof_adr: np.ndarray  # (nu,) int, qvel index of each actuated joint
    default_qpos: np.ndarray  # (nq,) standing keyframe
    default_joint_pos: np.ndarray  # (nu,) rad, default PD target
    kp: np.ndarray  # (nu,) N·m/rad, nominal stiffness
    kd: np.ndarray  # (nu,) N·m·s/rad, nominal damping gain
    torque_limit: np.ndarray  # (nu,) N·m
    joint_lower: np.ndarray  # (nu,) rad
    joint_upper: np.ndarray  # (nu,) rad
    pose_weights: np.ndarray  # (nu,) weight of each joint in the pose cost
    root_body: int
    torso_body: int
    imu_site: int
    foot_sites: np.ndarray  # (2,) int, left then right
    foot_geoms: np.ndarray  # (2, k) int, collision geoms per foot (padded with -1)
    floor_geom: int
    floor_pairs: np.ndarray  # (p,) int, explicit contact pairs between floor and a foot
    standing_height: float  # m, root height in the keyframe
    terrain: TerrainConfig = TerrainConfig()  # the ground the floor geom is (mjx_walker.terrain)

    @property
    def nu(self) -> int:
        """Number of actuated joints (= action size)."""
        return len(self.joint_names)

    @property
    def total_mass(self) -> float:
        """Robot mass in kg."""
        return float(self.mj_model.body_subtreemass[self.root_body])


def _strip_visual_meshes(spec: mujoco.MjSpec) -> None:
    """Delete mesh geoms that never collide, then all meshes nothing refers to any more."""
    for geom in list(spec.geoms):
        if geom.type == mujoco.mjtGeom.mjGEOM_MESH and geom.contype == 0 and geom.conaffinity == 0:
            spec.delete(geom)
    used = {g.meshname for g in spec.geoms if g.type == mujoco.mjtGeom.mjGEOM_MESH}
    for mesh in list(spec.meshes):
        if mesh.name not in used:
            spec.delete(mesh)


def _apply_overrides(spec: mujoco.MjSpec, path: Path) -> None:
    """Apply the option attributes and named-geom attributes of an overrides MJCF fragment."""
    root = ET.parse(path).getroot()
    for option in root.iter("option"):
        for key, text in option.attrib.items():
            value = _OPTION_ENUMS[key][text] if key in _OPTION_ENUMS else float(text)
            setattr(spec.option, key, value)
    for geom_el in root.iter("geom"):
        geom = spec.geom(geom_el.attrib["name"])
        if geom is None:
            raise ValueError(f"{path}: scene has no geom named {geom_el.attrib['name']!r}")
        for key, text in geom_el.attrib.items():
            if key == "name":
                continue
            values = [float(v) for v in text.split()]
            setattr(geom, key, values if len(values) > 1 else type(getattr(geom, key))(values[0]))


def _actuated_joint_names(spec: mujoco.MjSpec) -> list[str]:
    """Joint driven by each actuator, in actuator order."""
    return [act.target for act in spec.actuators]


def _to_motors(spec: mujoco.MjSpec, torque_limit: np.ndarray) -> None:
    """Turn every actuator into a unit-gain torque motor limited to +-torque_limit."""
    for act, limit in zip(spec.actuators, torque_limit, strict=True):
        act.gaintype = mujoco.mjtGain.mjGAIN_FIXED
        act.biastype = mujoco.mjtBias.mjBIAS_NONE
        act.gainprm = np.eye(1, 10).ravel()
        act.biasprm = np.zeros(10)
        act.inheritrange = 0.0
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.ctrlrange = np.array([-limit, limit])
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_FALSE
    for key in spec.keys:
        key.ctrl = np.zeros(len(torque_limit))


def _id(model: mujoco.MjModel, kind: mujoco.mjtObj, name: str, robot: str) -> int:
    """Index of a named element; a clear error if the robot's MJCF has no such name."""
    idx = mujoco.mj_name2id(model, kind, name)
    if idx < 0:
        raise ValueError(f"robot {robot!r}: MJCF has no {kind.name[6:].lower()} named {name!r}")
    return idx


def _robot_spec(
    robot_name: str, sim: SimConfig, terrain: TerrainConfig | None = None
) -> tuple[RobotSpec, mujoco.MjSpec]:
    """The robot's scene as an MjSpec: visual meshes and sensors removed, overrides, timing and terrain applied."""
    spec_info = get_robot(robot_name)
    spec = mujoco.MjSpec.from_file(str(scene_path(spec_info)))
    _strip_visual_meshes(spec)
    for sensor in list(spec.sensors):
        spec.delete(sensor)
    _apply_overrides(spec, OVERRIDES_XML)
    spec.option.timestep = sim.sim_dt
    spec.option.iterations = sim.iterations
    spec.option.ls_iterations = sim.ls_iterations
    field = terrain_field(terrain) if terrain is not None else None
    if field is not None:
        add_to_spec(spec, spec_info.floor_geom, field)
    return spec_info, spec


def build_robot_model(
    robot_name: str, sim: SimConfig | None = None, terrain: TerrainConfig | None = None
) -> RobotModel:
    """Parse, strip, override and compile a robot's scene on ``terrain`` (default flat); resolve all names."""
    sim, terrain = sim or SimConfig(), terrain or TerrainConfig()
    spec_info, spec = _robot_spec(robot_name, sim, terrain)

    # Read PD gains and torque limits from the position actuators before they become motors.
    nominal = spec.compile()
    joint_names = _actuated_joint_names(spec)
    jids = [_id(nominal, mujoco.mjtObj.mjOBJ_JOINT, n, robot_name) for n in joint_names]
    act_names = [nominal.actuator(i).name for i in range(nominal.nu)]
    kp = nominal.actuator_gainprm[:, 0].copy()
    kd = np.maximum(-nominal.actuator_biasprm[:, 2], 0.0)
    if spec_info.kp is not None:
        kp = np.array([spec_info.kp[n] for n in act_names])
    if spec_info.kd is not None:
        kd = np.array([spec_info.kd[n] for n in act_names])
    torque_limit = np.where(
        nominal.jnt_actfrclimited[jids],
        np.abs(nominal.jnt_actfrcrange[jids]).max(axis=1),
        np.abs(nominal.actuator_forcerange).max(axis=1),
    )
    if np.any(torque_limit <= 0):
        raise ValueError(f"robot {robot_name!r}: no torque limit for some actuators: {torque_limit}")
    _to_motors(spec, torque_limit)
    m = spec.compile()

    key = _id(m, mujoco.mjtObj.mjOBJ_KEY, spec_info.keyframe, robot_name)
    qpos_adr = m.jnt_qposadr[jids]
    default_qpos = m.key_qpos[key].copy()
    root = _id(m, mujoco.mjtObj.mjOBJ_BODY, spec_info.root_body, robot_name)
    floor = _id(m, mujoco.mjtObj.mjOBJ_GEOM, spec_info.floor_geom, robot_name)
    feet = [[_id(m, mujoco.mjtObj.mjOBJ_GEOM, g, robot_name) for g in side] for side in spec_info.foot_geoms]
    width = max(len(f) for f in feet)
    foot_geoms = np.array([f + [-1] * (width - len(f)) for f in feet])
    foot_set = set(np.ravel(feet).tolist())
    pairs = [
        i
        for i in range(m.npair)
        if {int(m.pair_geom1[i]), int(m.pair_geom2[i])} & foot_set and floor in (m.pair_geom1[i], m.pair_geom2[i])
    ]
    feet_priority = m.geom_priority[foot_geoms[foot_geoms >= 0]]
    if np.any(feet_priority >= m.geom_priority[floor]):
        raise ValueError(f"robot {robot_name!r}: the floor must have a higher contact priority than the feet")
    return RobotModel(
        spec=spec_info,
        mj_model=m,
        joint_names=tuple(joint_names),
        qpos_adr=qpos_adr,
        dof_adr=m.jnt_dofadr[jids],
        default_qpos=default_qpos,
        default_joint_pos=default_qpos[qpos_adr].copy(),
        kp=kp,
        kd=kd,
        torque_limit=torque_limit,
        joint_lower=m.jnt_range[jids, 0].copy(),
        joint_upper=m.jnt_range[jids, 1].copy(),
        pose_weights=np.array([next((w for key, w in spec_info.pose_weights if key in n), 1.0) for n in joint_names]),
        root_body=root,
        torso_body=_id(m, mujoco.mjtObj.mjOBJ_BODY, spec_info.torso_body, robot_name),
        imu_site=_id(m, mujoco.mjtObj.mjOBJ_SITE, spec_info.imu_site, robot_name),
        foot_sites=np.array([_id(m, mujoco.mjtObj.mjOBJ_SITE, s, robot_name) for s in spec_info.foot_sites]),
        foot_geoms=foot_geoms,
        floor_geom=floor,
        floor_pairs=np.array(pairs, dtype=int),
        standing_height=float(default_qpos[2]),
        terrain=terrain,
    )
