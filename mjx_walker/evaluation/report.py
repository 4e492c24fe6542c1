"""A policy's evaluation report: every condition's episodes, their summaries, report.json and report.png."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mjx_walker.configs import ConfigError, TerrainConfig
from mjx_walker.evaluation.conditions import (
    ENVELOPE_KEYS,
    MAX_BACKLASH_DEG,
    Condition,
    EvaluationError,
    Sweep,
    build_conditions,
    centre_values,
    check_pinned,
    scaled_envelope,
)
from mjx_walker.evaluation.draws import draw_episode
from mjx_walker.evaluation.episode import DEFAULT_SETTLE_S, Push, run_episode
from mjx_walker.evaluation.metrics import MEASURES, summarize
from mjx_walker.evaluation.plots import plot_comparison, plot_report
from mjx_walker.evaluation.video import Recording, render_video
from mjx_walker.model import RobotModel, build_robot_model
from mjx_walker.onnx_meta import PolicyFileError, PolicyMeta, meta_from_props
from mjx_walker.policy_paths import resolve_policy
from mjx_walker.runner.inference import OnnxPolicy
from mjx_walker.runner.mujoco_backend import SimShift
from mjx_walker.runner.safety import COMMAND_KEYS, COMMAND_TOL, SafetyError, check_command
from mjx_walker.runner.session import sim_config


def default_lags_ms(meta: PolicyMeta) -> list[float]:
    """Training lag range in ms: low, midpoint, high (deduplicated)."""
    lo, hi = meta.randomization["lag_substeps"]
    values = sorted({lo, (lo + hi) // 2, hi})
    return [v * meta.sim_dt * 1e3 for v in values]


def _check_request(
    episodes: int,
    duration: float,
    settle_s: float,
    init_noise: float,
    noise_level: float,
    *,
    shift: float = 1.0,
    push_mps: float = 0.0,
    push_time_s: float = 0.0,
    seed: int = 0,
    lag_ms: list[float] | None = None,
    backlash_deg: float = 0.0,
    gyro_bias: float = 0.0,
    imu_tilt_deg: float = 0.0,
) -> None:
    """EvaluationError naming the argument, its value and what is allowed unless every one is usable."""
    finite = math.isfinite
    for name, value, ok, rule in (
        ("episodes", episodes, episodes >= 1, ">= 1"),
        ("duration", duration, finite(duration) and duration > 0, "finite and > 0 s"),
        ("settle_s", settle_s, finite(settle_s) and settle_s >= 0, "finite and >= 0 s"),
        ("init_noise", init_noise, finite(init_noise) and init_noise >= 0, "finite and >= 0"),
        ("noise_level", noise_level, finite(noise_level) and noise_level >= 0, "finite and >= 0"),
        ("shift", shift, finite(shift) and shift >= 0, "finite and >= 0 (1 = the training envelope)"),
        ("push_mps", push_mps, finite(push_mps) and push_mps >= 0, "finite and >= 0 m/s"),
        ("push_time_s", push_time_s, finite(push_time_s) and push_time_s >= 0, "finite and >= 0 s"),
        ("seed", seed, seed >= 0, ">= 0"),
        ("backlash_deg", backlash_deg, 0 <= backlash_deg <= MAX_BACKLASH_DEG, f"in [0, {MAX_BACKLASH_DEG:g}] degrees"),
        ("gyro_bias", gyro_bias, finite(gyro_bias) and abs(gyro_bias) <= 1, "in [-1, 1] rad/s"),
        ("imu_tilt_deg", imu_tilt_deg, finite(imu_tilt_deg) and abs(imu_tilt_deg) <= 10, "in [-10, 10] degrees"),
        *(("lag_ms", v, finite(v) and v >= 0, "finite and >= 0 ms") for v in lag_ms or []),
    ):
        if not ok:
            raise EvaluationError(f"{name} must be {rule}, got {value}")


def plan_conditions(
    meta: PolicyMeta,
    lag_ms: list[float] | None,
    sweep: Sweep | None,
    pinned: dict[str, float],
    push_mps: float,
    backlash_deg: float = 0.0,
) -> list[Condition]:
    """The conditions: the given lags (default: training's low, mid, high) or the sweep's grid."""
    if sweep is not None and sweep.name == "lag_ms" and lag_ms is not None:
        raise EvaluationError("--sweep lag_ms replaces --lag-ms; give one of them")
    lo, hi = meta.randomization["lag_substeps"]
    if lag_ms is not None:
        lags = [float(v) for v in lag_ms]
    elif sweep is not None:  # any other sweep runs at the training lag's midpoint
        lags = [(lo + hi) // 2 * meta.sim_dt * 1e3]
    else:
        lags = default_lags_ms(meta)
    return build_conditions(lags, sweep, pinned, push_mps, backlash_deg)


def _check_masses(robot: RobotModel, envelope: dict[str, list[float]], conditions: list[Condition]) -> None:
    """EvaluationError if some condition's lightest torso (mass scale x mass + payload) is not positive."""
    torso = float(robot.mj_model.body_mass[robot.torso_body])
    for c in conditions:
        mass = c.pinned.get("mass_scale", envelope["mass_scale"][0])
        payload = c.pinned.get("payload_kg", envelope["payload_kg"][0])
        if torso * mass + payload <= 0:
            raise EvaluationError(f"payload {payload:g} kg on a {torso * mass:.2f} kg torso leaves it no mass")


@dataclass(frozen=True)
class EpisodeSettings:
    """What every episode of an evaluation shares."""

    episodes: int  # per condition
    duration: float  # s
    seed: int
    init_noise: float  # start perturbation scale
    settle_s: float  # steady window start
    push_time_s: float
    command: list[float] | None  # None: drawn per episode
    record_first: bool  # keep the first episode's trajectory (for the video)
    command_ranges: dict[str, list[float]] | None = None  # draw commands here (None: the policy's own)
    gyro_bias: float = 0.0  # rad/s added to each gyro axis
    imu_tilt_deg: float = 0.0  # IMU mounting error, in roll and in pitch


def lag_substeps(lag_ms: float, sim_dt: float) -> int:
    """The whole number of physics substeps (of ``sim_dt`` s) nearest a lag of ``lag_ms`` ms."""
    return int(round(lag_ms * 1e-3 / sim_dt))


def lag_notes(conditions: list[Condition], sim_dt: float) -> list[str]:
    """A note for each requested lag that runs as a different whole number of substeps."""
    notes = []
    for lag in dict.fromkeys(c.lag_ms for c in conditions):
        runs_as = lag_substeps(lag, sim_dt) * sim_dt * 1e3
        if abs(runs_as - lag) > 1e-6:
            notes.append(
                f"lag {lag:g} ms runs as {runs_as:g} ms: lags are whole physics substeps of {sim_dt * 1e3:g} ms"
            )
    return notes


def run_conditions(
    policy: OnnxPolicy,
    robot: RobotModel,
    conditions: list[Condition],
    envelope: dict[str, list[float]],
    noise: dict[str, float],
    s: EpisodeSettings,
) -> tuple[list[dict[str, Any]], list[float], Recording]:
    """Every condition's episodes: their rows, the inference latencies (s), the first episode's trajectory."""
    meta = policy.meta
    draw_meta = meta if s.command_ranges is None else dataclasses.replace(meta, command_ranges=s.command_ranges)
    rows: list[dict[str, Any]] = []
    latencies: list[float] = []
    first = Recording([], [], [0.0, 0.0, 0.0])
    for index, cond in enumerate(conditions):
        substeps = lag_substeps(cond.lag_ms, meta.sim_dt)
        for i in range(s.episodes):
            draw = draw_episode(s.seed, i, envelope, draw_meta, s.init_noise)
            physics = {**draw.physics, **cond.pinned}
            backlash = math.radians(cond.backlash_deg)
            sim_shift = SimShift(
                **physics,
                lag_substeps=substeps,
                backlash_rad=backlash,
                gyro_bias=(s.gyro_bias,) * 3,
                imu_tilt_rad=(math.radians(s.imu_tilt_deg),) * 2,
                noise=noise,
                seed=draw.sim_seed,
            )
            cmd = list(s.command) if s.command is not None else draw.command
            kick = cond.push_mps * np.array([np.cos(draw.push_angle), np.sin(draw.push_angle)])
            push = Push(s.push_time_s, (float(kick[0]), float(kick[1]))) if cond.push_mps > 0 else None
            ep = run_episode(
                policy,
                sim_shift,
                cmd,
                s.duration,
                record_qpos=s.record_first and not rows,
                perturbation=(draw.joint_offsets, draw.base_vel),
                push=push,
                settle_s=s.settle_s,
                robot=robot,
            )
            latencies += ep.pop("inference_s")
            qpos, qvel = ep.pop("qpos"), ep.pop("qvel")
            if qpos and not first.qpos:
                first = Recording(qpos, qvel, ep["command"])
            lag = {"lag_ms": substeps * meta.sim_dt * 1e3, "lag_substeps": substeps}
            head = {"condition": index, "episode": i, **lag, "push_mps": cond.push_mps}
            rows.append({**head, "backlash_deg": cond.backlash_deg, **physics, **ep})
    return rows, latencies, first


def summarize_conditions(
    rows: list[dict[str, Any]], conditions: list[Condition], settle_s: float
) -> list[dict[str, Any]]:
    """One summary per condition: its lag, push and pinned values, then the measures."""
    out = []
    for index, cond in enumerate(conditions):
        group = [r for r in rows if r["condition"] == index]
        head = {k: group[0][k] for k in ("lag_ms", "lag_substeps", "push_mps", "backlash_deg")}
        out.append({**head, "pinned": cond.pinned, **cond.pinned, **summarize(group, settle_s)})
    return out


def _terrain(kind: str) -> TerrainConfig:
    """The evaluation ground of ``kind``; EvaluationError naming the option and what is allowed."""
    try:
        ground = TerrainConfig(kind=kind)
    except ConfigError as err:
        raise EvaluationError(f"--terrain {kind!r} is invalid: {str(err).split(': ', 1)[-1]}") from None
    if kind == "tiles":
        raise EvaluationError("--terrain 'tiles' is training's field; evaluate on flat, rough:H, steps:H or step:H")
    return ground


def evaluate_policy(
    policy_path: str | os.PathLike | OnnxPolicy,
    out_dir: str | os.PathLike = "eval",
    episodes: int = 10,
    shift: float = 1.0,
    lag_ms: list[float] | None = None,
    duration: float = 10.0,
    command: list[float] | None = None,
    seed: int = 0,
    video: str | os.PathLike | None = None,
    noise_level: float = 1.0,
    randomization: dict[str, Any] | None = None,
    *,
    centre: str = "envelope",
    pinned: dict[str, float] | None = None,
    settle_s: float = DEFAULT_SETTLE_S,
    init_noise: float = 1.0,
    push_mps: float = 0.0,
    push_time_s: float = 3.0,
    sweep: Sweep | None = None,
    verbose: bool = True,
    command_ranges: dict[str, list[float]] | None = None,
    backlash_deg: float = 0.0,
    gyro_bias: float = 0.0,
    imu_tilt_deg: float = 0.0,
    outside_box: bool = False,
    terrain: str = "flat",
) -> dict[str, Any]:
    """Run ``episodes`` per condition; write report.json and report.png; return the report.

    ``randomization`` (a ``RandomizationConfig`` as a dict) replaces the policy's own training
    envelope as the one ``shift`` scales: to compare policies trained with different envelopes
    (one with none at all) under the same shifted dynamics. ``pinned`` fixes parameters
    (``{"friction": 0.3}``) in every episode; ``backlash_deg`` gives every joint that much gear
    play (training's ``randomization.backlash_rad``; 0: none); ``gyro_bias`` (rad/s, every axis)
    and ``imu_tilt_deg`` (roll and pitch) give the IMU those errors; ``outside_box`` runs a
    ``command`` outside the policy's trained box (refused otherwise), marked in the report;
    ``command_ranges`` replaces the policy's own for
    drawn commands; ``terrain`` is the ground (a ``TerrainConfig.kind``: ``flat``, ``rough:H``, ...).
    Episode i gets the same draws in every condition
    (see :mod:`mjx_walker.evaluation.draws`); the measures are :mod:`mjx_walker.evaluation.metrics`'.
    """
    _check_request(
        episodes,
        duration,
        settle_s,
        init_noise,
        noise_level,
        shift=shift,
        push_mps=push_mps,
        push_time_s=push_time_s,
        seed=seed,
        lag_ms=lag_ms,
        backlash_deg=backlash_deg,
        gyro_bias=gyro_bias,
        imu_tilt_deg=imu_tilt_deg,
    )
    if command is not None and len(command) != 3:
        raise EvaluationError(f"command needs three numbers vx,vy,yaw; got {list(command)}")
    ground = _terrain(terrain)
    if isinstance(policy_path, OnnxPolicy):
        policy = policy_path
    else:
        policy = OnnxPolicy(resolve_policy(policy_path), verbose=verbose)
    meta = policy.meta
    outside = outside_box_components(command, meta.command_ranges) if command is not None else {}
    if outside and not outside_box:
        try:
            check_command(command, meta.command_ranges)
        except SafetyError as err:
            raise EvaluationError(f"{err} (--outside-box runs it anyway, marked in the report)") from None
    if outside:
        policy = _with_command_ranges(policy, {k: _widened(meta.command_ranges[k], v[0]) for k, v in outside.items()})
        meta = policy.meta
    robot = build_robot_model(meta.robot, sim_config(meta), ground)
    rnd = meta.randomization if randomization is None else randomization
    about = centre_values(rnd, centre, float(robot.mj_model.geom_friction[robot.floor_geom, 0]))
    envelope = scaled_envelope(rnd, shift, about)
    pinned = check_pinned(pinned or {})
    conditions = plan_conditions(meta, lag_ms, sweep, pinned, push_mps, backlash_deg)
    _check_masses(robot, envelope, conditions)
    if any(c.push_mps > 0 for c in conditions) and push_time_s >= duration:
        raise EvaluationError(f"a push at {push_time_s:g} s never happens in a {duration:g} s episode")
    noise = {k: float(meta.noise[k]) for k in ("gyro", "gravity", "joint_pos", "joint_vel")}
    noise["level"] = float(meta.noise["level"]) * noise_level
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    settings = EpisodeSettings(
        episodes,
        duration,
        seed,
        init_noise,
        settle_s,
        push_time_s,
        command,
        video is not None,
        command_ranges,
        gyro_bias,
        imu_tilt_deg,
    )
    rows, latencies, first = run_conditions(policy, robot, conditions, envelope, noise, settings)
    notes = lag_notes(conditions, meta.sim_dt)
    if settle_s >= duration:
        notes.append(f"settle_s {settle_s:g} >= duration {duration:g}: no steady window, tracking measures are null")
    report = {
        "policy": str(policy.path),
        "robot": meta.robot,
        "config_digest": meta.config_digest,
        "provider": policy.provider,
        "shift": shift,
        "centre": centre,
        "centre_values": about,
        "pinned": pinned,
        "duration_s": duration,
        "settle_s": settle_s,
        "episodes_per_condition": episodes,
        "seed": seed,
        "init_noise": init_noise,
        "noise": noise,
        "push": {"mps": push_mps, "time_s": push_time_s},
        "backlash_deg": backlash_deg,
        "terrain": terrain,
        "outside_trained_box": outside or None,  # {component: [commanded, trained range]}
        "imu": {"gyro_bias": gyro_bias, "tilt_deg": imu_tilt_deg},
        "envelope": {k: [pinned[k]] * 2 if k in pinned else envelope[k] for k in ENVELOPE_KEYS},
        "sweep": None if sweep is None else {"name": sweep.name, "values": list(sweep.values)},
        "measures": MEASURES,
        "notes": notes,
        "overall": summarize(rows, settle_s),
        "conditions": summarize_conditions(rows, conditions, settle_s),
        "latency": {
            "calls": len(latencies),
            "inference_ms_p50": float(np.percentile(latencies, 50) * 1e3) if latencies else None,
            "inference_ms_p99": float(np.percentile(latencies, 99) * 1e3) if latencies else None,
        },
        "episodes": rows,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    plot_report(report, out / "report.png", latencies)
    if video is not None:
        report["video"] = render_video(meta, first, Path(video))
        (out / "report.json").write_text(json.dumps(report, indent=2))
    return report


def policy_labels(paths: list[str | os.PathLike]) -> list[str]:
    """Short unique names for policy files: the stem, else parent_stem, else numbered."""
    paths = [Path(p) for p in paths]
    labels = [p.stem for p in paths]
    if len(set(labels)) < len(labels):
        labels = [f"{p.parent.name}_{p.stem}" for p in paths]
    if len(set(labels)) < len(labels):
        labels = [f"{i}_{label}" for i, label in enumerate(labels)]
    return [re.sub(r"[^A-Za-z0-9._-]+", "_", label) for label in labels]


def load_policies(
    paths: list[str | os.PathLike], specs: list[str | os.PathLike] | None = None, verbose: bool = True
) -> list[OnnxPolicy]:
    """Every policy, checked before any episode runs; the ``specs`` go, in order, to the files without metadata."""
    specs = list(specs or [])
    foreign = [p for p in paths if not has_meta(p)]
    if specs and len(specs) != len(foreign):  # without any, the file's own error says to give --spec
        raise EvaluationError(
            f"{len(specs)} --spec file(s) for {len(foreign)} policy file(s) without mjx_walker metadata "
            f"({[str(p) for p in foreign]}); give one policy spec per such file, in the same order"
        )
    given = dict(zip(map(str, foreign), specs, strict=False))
    return [OnnxPolicy(p, verbose=verbose, spec=given.get(str(p))) for p in paths]


def outside_box_components(command: list[float], ranges: dict[str, list[float]]) -> dict[str, list[Any]]:
    """{component: [commanded value, trained range]} for each command component outside its range."""
    out = {}
    for (key, _), value in zip(COMMAND_KEYS, command, strict=True):
        lo, hi = (float(v) for v in ranges[key])
        if not lo - COMMAND_TOL <= float(value) <= hi + COMMAND_TOL:
            out[key] = [float(value), [lo, hi]]
    return out


def _widened(trained: list[float], value: float) -> list[float]:
    """A range stretched to include ``value``."""
    return [min(float(trained[0]), value), max(float(trained[1]), value)]


def _with_command_ranges(policy: OnnxPolicy, ranges: dict[str, list[float]]) -> OnnxPolicy:
    """A copy of ``policy`` whose metadata admits ``ranges`` (the runner's command check reads them)."""
    wide = copy.copy(policy)
    wide.meta = dataclasses.replace(policy.meta, command_ranges={**policy.meta.command_ranges, **ranges})
    return wide


def common_command_ranges(metas: list[PolicyMeta]) -> dict[str, list[float]]:
    """The command ranges every policy was trained for (their intersection); EvaluationError if empty."""
    out = {}
    for key in metas[0].command_ranges:
        lo = max(m.command_ranges[key][0] for m in metas)
        hi = min(m.command_ranges[key][1] for m in metas)
        if lo > hi:
            raise EvaluationError(
                f"the policies share no {key} command range: {[m.command_ranges[key] for m in metas]}"
            )
        out[key] = [lo, hi]
    return out


def has_meta(path: str | os.PathLike) -> bool:
    """Whether the file is an ONNX model with mjx_walker metadata (a missing or broken file counts as having it).

    Read through onnxruntime, as the runner reads it: no ``onnx`` package needed.
    """
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception:  # missing or not ONNX: loading the policy names the problem
        return True
    try:
        meta_from_props(dict(session.get_modelmeta().custom_metadata_map), str(path))
    except PolicyFileError as err:
        return "not an mjx_walker policy" not in str(err)
    return True


def evaluate_policies(
    paths: list[str | os.PathLike],
    out_dir: str | os.PathLike = "eval",
    video: str | None = None,
    specs: list[str | os.PathLike] | None = None,
    **kwargs: Any,
) -> dict[str, dict[str, Any]]:
    """Evaluate each policy under the same conditions and draws; label -> report.

    One policy writes into ``out_dir``; several write into ``out_dir/<label>/`` and add
    ``comparison.png`` (one line per policy) and ``comparison.json`` in ``out_dir``. Several
    policies share the first one's physics envelope and default lags, and draw commands from the
    ranges all of them were trained for, unless ``randomization``, ``lag_ms`` or ``command_ranges``
    are given: every policy meets the same physics and commands in episode i. ``specs`` are
    policy specs (:mod:`mjx_walker.policy_spec`) for the files trained elsewhere, in order.
    """
    out = Path(out_dir)
    verbose = kwargs.pop("verbose", True)
    paths = [resolve_policy(p) for p in paths]  # a run or policy directory: its policy.onnx
    policies = load_policies(paths, specs, verbose)
    if len(policies) > 1:
        first = policies[0].meta
        if kwargs.get("randomization") is None:
            kwargs["randomization"] = first.randomization
        if kwargs.get("lag_ms") is None and kwargs.get("sweep") is None:
            kwargs["lag_ms"] = default_lags_ms(first)
        kwargs.setdefault("command_ranges", common_command_ranges([p.meta for p in policies]))
    labels = policy_labels(paths)
    if len(paths) == 1:
        return {labels[0]: evaluate_policy(policies[0], out, video=video, **kwargs)}
    reports = {}
    for label, policy in zip(labels, policies, strict=True):
        clip = None if video is None else Path(video).with_stem(f"{Path(video).stem}_{label}")
        reports[label] = evaluate_policy(policy, out / label, video=clip, **kwargs)
    out.mkdir(parents=True, exist_ok=True)
    plot_comparison(reports, out / "comparison.png")
    keep = ("policy", "robot", "shift", "centre", "pinned", "sweep", "overall", "conditions")
    comparison = {label: {k: r[k] for k in keep} for label, r in reports.items()}
    (out / "comparison.json").write_text(json.dumps(comparison, indent=2))
    return reports
