"""Host side of the MuJoCo C physics backend: per-env MjModels stepped by ``mujoco.rollout``.

NumPy and MuJoCo only (no JAX): :mod:`mjx_walker.physics_c` calls these functions from inside
the jitted env step through ``jax.pure_callback``.

The servo model differs from the training model (:func:`mjx_walker.model.build_robot_model`) in
two ways, neither of which moves an index:

* actuators are position servos with force ``clip(kp·(ctrl − q) − kd·q̇, ±torque_limit)``: the PD
  law of :func:`mjx_walker.pd.pd_torque`, evaluated by MuJoCo at every substep, so a whole control
  step runs in C with the lagged target of each substep as its control (with the Euler integrator
  of the scene, damping stays explicit, as in the MJX path);
* sensors report what :class:`mjx_walker.state.Readout` holds (foot sites, base and IMU
  orientation, gyro, foot-floor contacts). A step's sensor values come from its forward pass, the
  state before its integration, exactly as MJX's ``data`` fields after ``mjx.step``.

Each env slot keeps its own MjModel; the randomized values are written into it only when that
env's parameters change (a new episode), through the same functions as training's randomization
(:mod:`mjx_walker.physics_shift`).
"""

from __future__ import annotations

import contextlib
import copy
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import mujoco
import numpy as np
from mujoco import rollout

from mjx_walker.configs import SimConfig
from mjx_walker.model import RobotModel, _robot_spec
from mjx_walker.physics_shift import shift_com, shift_friction, shift_joints, shift_masses

_FULL = mujoco.mjtState.mjSTATE_FULLPHYSICS
# PhysicsParams fields written into the model, in the order of the flat parameter row.
PARAM_FIELDS = (
    "friction",
    "mass_scale",
    "payload",
    "com_offset",
    "kp_scale",
    "kd_scale",
    "armature_scale",
    "damping_scale",
    "frictionloss_scale",
)


@dataclass(frozen=True)
class ServoModel:
    """The C backend's model of a robot and where its state and sensor values lie."""

    model: mujoco.MjModel
    robot: RobotModel
    sensors: dict[str, slice]  # readout name -> slice of sensordata
    nstate: int  # size of a full physics state (time, qpos, qvel, ...)

    @property
    def qpos(self) -> slice:
        """Slice of qpos in a full physics state."""
        return slice(1, 1 + self.model.nq)

    @property
    def qvel(self) -> slice:
        """Slice of qvel in a full physics state."""
        return slice(1 + self.model.nq, 1 + self.model.nq + self.model.nv)

    def param_sizes(self) -> dict[str, int]:
        """Length of each PhysicsParams field in a flat parameter row."""
        nbody, nu = self.model.nbody, self.robot.nu
        sizes = {"friction": 1, "mass_scale": nbody, "payload": 1, "com_offset": 3}
        return sizes | {name: nu for name in PARAM_FIELDS[4:]}


def _add_sensors(spec: mujoco.MjSpec, robot: RobotModel) -> list[tuple[str, int]]:
    """Add the readout's sensors to ``spec``; returns (readout name, dim) in sensordata order."""
    m, names = robot.mj_model, robot.spec
    site, body, geom = mujoco.mjtObj.mjOBJ_SITE, mujoco.mjtObj.mjOBJ_XBODY, mujoco.mjtObj.mjOBJ_GEOM
    sens = mujoco.mjtSensor
    layout = []
    for foot in names.foot_sites:
        spec.add_sensor(type=sens.mjSENS_FRAMEPOS, objtype=site, objname=foot)
    layout.append(("feet_pos", 6))
    spec.add_sensor(type=sens.mjSENS_FRAMEQUAT, objtype=body, objname=names.root_body)
    layout.append(("root_quat", 4))
    spec.add_sensor(type=sens.mjSENS_FRAMEQUAT, objtype=site, objname=names.imu_site)
    layout.append(("imu_quat", 4))
    spec.add_sensor(type=sens.mjSENS_GYRO, objname=names.imu_site, objtype=site)
    layout.append(("gyro", 3))
    floor = m.geom(robot.floor_geom).name
    for side in robot.foot_geoms:
        for g in side[side >= 0]:
            found = [1, 0, 1]  # data="found", no reduction, one contact
            spec.add_sensor(
                type=sens.mjSENS_CONTACT, objtype=geom, objname=m.geom(int(g)).name, reftype=geom, refname=floor
            )
            spec.sensors[-1].intprm[:3] = found
    layout.append(("contacts", int(np.sum(robot.foot_geoms >= 0))))
    return layout


def _to_servos(spec: mujoco.MjSpec, robot: RobotModel) -> None:
    """Turn every actuator into the PD servo of :func:`mjx_walker.pd.pd_torque` (nominal gains)."""
    for act, kp, kd, limit in zip(spec.actuators, robot.kp, robot.kd, robot.torque_limit, strict=True):
        act.gaintype = mujoco.mjtGain.mjGAIN_FIXED
        act.biastype = mujoco.mjtBias.mjBIAS_AFFINE
        act.gainprm = np.eye(1, 10).ravel() * kp
        act.biasprm = np.array([0.0, -kp, -kd] + [0.0] * 7)
        act.gear = np.eye(1, 6).ravel()
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = np.array([-limit, limit])


def build_servo_model(robot: RobotModel) -> ServoModel:
    """The C backend's model of ``robot``: the same scene with PD servos and the readout's sensors."""
    _, spec = _robot_spec(robot.spec.name, SimConfig(), robot.terrain)
    opt = robot.mj_model.opt
    spec.option.timestep, spec.option.iterations, spec.option.ls_iterations = (
        opt.timestep,
        opt.iterations,
        opt.ls_iterations,
    )
    _to_servos(spec, robot)
    layout = _add_sensors(spec, robot)
    model = spec.compile()
    if (model.nq, model.nv, model.nbody, model.ngeom) != (
        robot.mj_model.nq,
        robot.mj_model.nv,
        robot.mj_model.nbody,
        robot.mj_model.ngeom,
    ):
        raise RuntimeError(f"robot {robot.spec.name!r}: the servo model's layout differs from the training model's")
    sensors, start = {}, 0
    for name, dim in layout:
        sensors[name] = slice(start, start + dim)
        start += dim
    return ServoModel(model=model, robot=robot, sensors=sensors, nstate=mujoco.mj_stateSize(model, _FULL))


def write_params(servo: ServoModel, m: mujoco.MjModel, row: np.ndarray) -> None:
    """Write one env's flat parameter row (float) into its model ``m`` (from the nominal values)."""
    base, robot = servo.model, servo.robot
    p, start = {}, 0
    for name, size in servo.param_sizes().items():
        p[name] = row[start : start + size]
        start += size
    torso = robot.torso_body
    m.body_mass[:], m.body_inertia[:] = shift_masses(
        base.body_mass, base.body_inertia, p["mass_scale"], p["payload"][0], torso
    )
    m.body_ipos[:] = shift_com(base.body_ipos, torso, p["com_offset"])
    m.geom_friction[:], m.pair_friction[:] = shift_friction(
        base.geom_friction, base.pair_friction, robot.floor_geom, robot.floor_pairs, p["friction"][0]
    )
    m.dof_armature[:], m.dof_damping[:], m.dof_frictionloss[:] = shift_joints(
        base.dof_armature,
        base.dof_damping,
        base.dof_frictionloss,
        robot.dof_adr,
        p["armature_scale"],
        p["damping_scale"],
        p["frictionloss_scale"],
    )
    kp, kd = robot.kp * p["kp_scale"], robot.kd * p["kd_scale"]
    m.actuator_gainprm[:, 0] = kp
    m.actuator_biasprm[:, 1] = -kp
    m.actuator_biasprm[:, 2] = -kd


def cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class _Slots:
    """One caller thread's env models, their parameter rows, and a rollout thread pool."""

    def __init__(self, servo: ServoModel, n: int, nthread: int) -> None:
        """``n`` copies of the servo model with no parameters written yet."""
        self.models = [copy.copy(servo.model) for _ in range(n)]
        self.rows: np.ndarray | None = None
        self.datas = [mujoco.MjData(servo.model) for _ in range(max(nthread, 1))]
        self.rollout = rollout.Rollout(nthread=nthread)

    def update(self, servo: ServoModel, rows: np.ndarray) -> None:
        """Write the rows (n, P) of the envs whose parameters changed into their models."""
        changed = np.ones(len(rows), bool) if self.rows is None else np.any(rows != self.rows, axis=1)
        for i in np.flatnonzero(changed):
            write_params(servo, self.models[i], rows[i])
        self.rows = rows.copy()


class CPool:
    """Steps batches of envs in MuJoCo C, each call on a free set of env models for its batch size.

    Calls may come at once from several XLA threads (one per device under ``pmap``); each takes a
    set of models no other call holds, so they never share an MjModel or MjData. A set remembers
    the parameters it last held, so an env's model is rewritten only when they change.
    """

    def __init__(self, servo: ServoModel, nthread: int | None = None) -> None:
        """``nthread`` rollout threads per call (default: the CPU cores this process may use)."""
        self.servo = servo
        self.nthread = nthread or cores()
        self._free: dict[int, list[_Slots]] = {}
        self._lock = threading.Lock()
        self._forward_data = mujoco.MjData(servo.model)  # used under the lock

    @contextlib.contextmanager
    def _slots_for(self, n: int) -> Iterator[_Slots]:
        """A set of ``n`` env models that no other call holds (made when none is free)."""
        with self._lock:
            free = self._free.setdefault(n, [])
            slots = free.pop() if free else None
        slots = slots or _Slots(self.servo, n, self.nthread)
        try:
            yield slots
        finally:
            with self._lock:
                self._free[n].append(slots)

    def _state(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """Full physics states (n, nstate) at time 0 from qpos (n, nq) and qvel (n, nv)."""
        state = np.zeros((len(qpos), self.servo.nstate))
        state[:, self.servo.qpos] = qpos
        state[:, self.servo.qvel] = qvel
        return state

    def step(
        self, rows: np.ndarray, qpos: np.ndarray, qvel: np.ndarray, ctrl: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Step n envs through the substeps of ``ctrl`` (n, S, nu) rad.

        Args: parameter rows (n, P), qpos (n, nq), qvel (n, nv). Returns qpos (n, nq) and qvel
        (n, nv) after the last substep, the state before it (qpos, qvel) and the last substep's
        sensor values (n, nsensordata). Where MuJoCo reset an unstable simulation (its own
        warning, seen as the time set back to 0), qpos is NaN: the env treats that as non-finite
        physics, as it does on MJX.
        """
        steps = ctrl.shape[1]
        with self._slots_for(len(rows)) as slots:
            slots.update(self.servo, rows)
            state, sensordata = slots.rollout.rollout(
                slots.models, slots.datas, self._state(qpos, qvel), np.ascontiguousarray(ctrl, np.float64)
            )
        dt = self.servo.model.opt.timestep
        ok = np.abs(state[:, -1, 0] - steps * dt) < 0.5 * dt  # a reset sets the time back to 0
        before = state[:, -2] if steps > 1 else self._state(qpos, qvel)
        q, v = self.servo.qpos, self.servo.qvel
        qpos_after = np.where(ok[:, None], state[:, -1, q], np.nan)
        return qpos_after, state[:, -1, v], before[:, q], before[:, v], sensordata[:, -1]

    def forward(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """Sensor values (n, nsensordata) of the states qpos (n, nq), qvel (n, nv) (nominal model)."""
        out = np.empty((len(qpos), self.servo.model.nsensordata))
        with self._lock:
            data = self._forward_data
            for i in range(len(qpos)):
                data.qpos[:], data.qvel[:] = qpos[i], qvel[i]
                mujoco.mj_forward(self.servo.model, data)
                out[i] = data.sensordata
        return out
