"""Policy specs: describe an ONNX policy trained elsewhere so the runner and ``evaluate`` can use it.

An mjx_walker export carries its own metadata (:mod:`mjx_walker.onnx_meta`). A policy from MuJoCo
Playground, Isaac Lab or rsl_rl does not; a small TOML file says the same things instead::

    robot = "berkeley_humanoid"          # a robot of mjx_walker.robots
    ctrl_dt = 0.02                       # s, policy period
    sim_dt = 0.002                       # s, physics substep the policy was trained with
    action_scale = 0.5                   # rad of PD target offset per unit of action
    gait_frequency_hz = 1.5              # needed when the observation has a gait_phase term
    initial_gait_phase = [0.0, 3.14159]  # rad, left and right (default [0, -pi])
    output = "continuous_actions"        # ONNX output name (default: the only output)

    [[observation]]                      # in order; terms from mjx_walker.obs_terms.TERMS
    term = "base_linvel"
    [[observation]]
    term = "gyro"
    scale = 1.0                          # the term is multiplied by this (default 1)

Optional, with defaults from the robot model: ``joint_names`` (must equal the model's actuator
order), ``default_joint_pos`` (the standing keyframe), ``kp``, ``kd`` (the MJCF actuator gains),
``input`` (default ``obs``). Optional with mjx_walker's defaults: ``command_ranges``, ``noise``
(observation noise in ``evaluate``, default none) and ``randomization`` (the envelope ``evaluate``
draws physics from, default mjx_walker's default training envelope, so that comparisons with
mjx_walker's policies use the same draws). Every error names the field, the value and what is
allowed, before anything runs.
"""

from __future__ import annotations

import math
import os
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from mjx_walker import gait
from mjx_walker.obs_terms import TERMS, check_layout, layout_json

REQUIRED = ("robot", "ctrl_dt", "sim_dt", "action_scale", "observation")
OPTIONAL = (
    "input",
    "output",
    "joint_names",
    "default_joint_pos",
    "kp",
    "kd",
    "gait_frequency_hz",
    "initial_gait_phase",
    "command_ranges",
    "noise",
    "randomization",
    "solver_iterations",
    "solver_ls_iterations",
)
COMMAND_KEYS = ("lin_vel_x", "lin_vel_y", "yaw_rate")
NOISE_KEYS = ("level", "gyro", "gravity", "joint_pos", "joint_vel")


class SpecError(ValueError):
    """A policy spec that cannot describe a policy (names the file, field, value and what is allowed)."""


def load_spec(path: str | os.PathLike) -> dict[str, Any]:
    """The spec at ``path`` as a dict, syntax and field names checked (values by :func:`spec_meta`)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: no such policy spec file")
    try:
        spec = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SpecError(f"{path}: not a TOML policy spec ({err})") from err
    missing = [k for k in REQUIRED if k not in spec]
    if missing:
        raise SpecError(f"{path}: missing required field(s) {missing}; required: {list(REQUIRED)}")
    unknown = sorted(set(spec) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise SpecError(f"{path}: unknown field(s) {unknown}; allowed: {list(REQUIRED + OPTIONAL)}")
    return spec


def _positive(spec: dict[str, Any], name: str, where: str) -> float:
    """Field ``name`` as a finite float > 0."""
    value = spec[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < value < math.inf):
        raise SpecError(f"{where}: {name} = {value!r}; allowed: a finite number > 0")
    return float(value)


def _vector(spec: dict[str, Any], name: str, n: int, default: np.ndarray, where: str) -> list[float]:
    """Field ``name`` as n finite floats (default when absent)."""
    if name not in spec:
        return [float(v) for v in default]
    value = spec[name]
    ok = isinstance(value, list) and len(value) == n
    ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    if not ok:
        raise SpecError(f"{where}: {name} = {value!r}; allowed: a list of {n} finite numbers")
    return [float(v) for v in value]


def _observation(spec: dict[str, Any], nu: int, where: str) -> list[dict[str, Any]]:
    """The observation blocks [{name, start, size, scale}] of the spec's ``[[observation]]`` list."""
    terms = spec["observation"]
    if not isinstance(terms, list) or not terms or not all(isinstance(t, dict) for t in terms):
        raise SpecError(f"{where}: observation must be a non-empty list of [[observation]] tables")
    pairs = []
    for i, t in enumerate(terms):
        extra = sorted(set(t) - {"term", "scale"})
        if "term" not in t or extra:
            raise SpecError(f"{where}: observation[{i}] = {t!r}; allowed keys: term (required), scale")
        if t["term"] not in TERMS:
            raise SpecError(f"{where}: observation[{i}].term = {t['term']!r}; allowed: {sorted(TERMS)}")
        pairs.append((t["term"], t.get("scale", 1.0)))
    layout = [{"name": n, "scale": s} for n, s in pairs]
    try:
        check_layout(layout, nu, where=f"{where}: observation")
    except ValueError as err:
        raise SpecError(str(err)) from err
    return layout_json(pairs, nu)


def _ranges(spec: dict[str, Any], name: str, keys: tuple[str, ...], default: dict[str, Any], where: str) -> dict:
    """Field ``name``: a table of ``keys`` (a subset) merged over ``default``."""
    value = spec.get(name, {})
    if not isinstance(value, dict) or set(value) - set(keys):
        raise SpecError(f"{where}: {name} = {value!r}; allowed: a table with keys from {list(keys)}")
    return {**default, **value}


def spec_meta(spec: dict[str, Any], source: str, obs_dim: int | str | None = None) -> Any:  # noqa: ANN401
    """The PolicyMeta a spec describes (robot-model defaults filled in); SpecError if it cannot.

    ``obs_dim`` is the ONNX input's size; it must equal the observation layout's size.
    """
    from mjx_walker.configs import CommandConfig, NoiseConfig, RandomizationConfig, SimConfig, to_dict

    try:  # the robot model fills in joint order, limits and default gains
        from mjx_walker.model import build_robot_model
    except ImportError as err:
        raise SpecError(
            f"{source}: reading a policy spec needs the robot's MuJoCo model, and this install lacks mujoco "
            f'({err}): pip install "mjx_walker[train]"'
        ) from err
    from mjx_walker.onnx_meta import PolicyMeta, package_versions
    from mjx_walker.robots import ROBOTS

    where = source
    if spec["robot"] not in ROBOTS:
        raise SpecError(f"{where}: robot = {spec['robot']!r}; allowed: {sorted(ROBOTS)}")
    ctrl_dt, sim_dt = _positive(spec, "ctrl_dt", where), _positive(spec, "sim_dt", where)
    if abs(ctrl_dt / sim_dt - round(ctrl_dt / sim_dt)) > 1e-6:
        raise SpecError(f"{where}: ctrl_dt {ctrl_dt:g} s is not a whole number of sim_dt {sim_dt:g} s substeps")
    action_scale = _positive(spec, "action_scale", where)
    sim_defaults = SimConfig()
    sim = SimConfig(
        ctrl_dt=ctrl_dt,
        sim_dt=sim_dt,
        iterations=int(spec.get("solver_iterations", sim_defaults.iterations)),
        ls_iterations=int(spec.get("solver_ls_iterations", sim_defaults.ls_iterations)),
    )
    robot = build_robot_model(spec["robot"], sim)
    nu = robot.nu
    names = spec.get("joint_names", list(robot.joint_names))
    if list(names) != list(robot.joint_names):
        raise SpecError(
            f"{where}: joint_names = {names!r}; allowed: the robot model's actuator order "
            f"{list(robot.joint_names)} (reorder the policy's joints in its export)"
        )
    layout = _observation(spec, nu, where)
    size = sum(b["size"] for b in layout)
    if isinstance(obs_dim, int) and obs_dim != size:
        raise SpecError(
            f"{where}: the observation terms add up to {size} numbers for {nu} joints "
            f"({[(b['name'], b['size']) for b in layout]}), but the ONNX input takes {obs_dim}"
        )
    has_gait = any(b["name"].startswith("gait_phase") for b in layout)
    if has_gait and "gait_frequency_hz" not in spec:
        raise SpecError(f"{where}: the observation has a gait phase term, so gait_frequency_hz is required")
    freq = _positive(spec, "gait_frequency_hz", where) if "gait_frequency_hz" in spec else 0.0
    phase = _vector(spec, "initial_gait_phase", 2, np.array(gait.INITIAL_PHASE), where)
    cmd = CommandConfig()
    default_ranges = {k: list(getattr(cmd, k)) for k in COMMAND_KEYS}
    ranges = _ranges(spec, "command_ranges", COMMAND_KEYS, default_ranges, where)
    for k, v in ranges.items():
        if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int | float) for x in v) and v[0] <= v[1]):
            raise SpecError(f"{where}: command_ranges.{k} = {v!r}; allowed: [low, high] with low <= high")
    noise = _ranges(spec, "noise", NOISE_KEYS, {**to_dict(NoiseConfig()), "level": 0.0}, where)
    rnd_default = _jsonable(to_dict(RandomizationConfig()))
    randomization = _ranges(spec, "randomization", tuple(rnd_default), rnd_default, where)
    return PolicyMeta(
        robot=spec["robot"],
        joint_names=list(robot.joint_names),
        default_joint_pos=_vector(spec, "default_joint_pos", nu, robot.default_joint_pos, where),
        action_scale=action_scale,
        kp=_vector(spec, "kp", nu, np.asarray(robot.kp), where),
        kd=_vector(spec, "kd", nu, np.asarray(robot.kd), where),
        torque_limit=np.asarray(robot.torque_limit, float).tolist(),
        joint_lower=robot.joint_lower.astype(float).tolist(),
        joint_upper=robot.joint_upper.astype(float).tolist(),
        ctrl_dt=ctrl_dt,
        sim_dt=sim_dt,
        solver_iterations=sim.iterations,
        solver_ls_iterations=sim.ls_iterations,
        obs_layout=layout,
        obs_dim=size,
        action_dim=nu,
        command_ranges={k: [float(x) for x in v] for k, v in ranges.items()},
        gait_frequency_hz=freq,
        gait_frequency_range_hz=[freq, freq],
        initial_gait_phase=phase,
        max_tilt_rad=float(cmd.max_tilt_rad),
        min_height_fraction=float(cmd.min_height_fraction),
        randomization=randomization,
        noise=noise,
        config_digest="",
        versions=package_versions(),
        extra={"spec": source, "input": spec.get("input", "obs"), "output": spec.get("output")},
    )


def _jsonable(value: Any) -> Any:  # noqa: ANN401
    """``value`` with tuples as lists, as it reads back from TOML or JSON."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
