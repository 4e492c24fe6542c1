"""Helpers shared by the export/runner/evaluate tests: a small untrained policy on disk."""

from __future__ import annotations

from pathlib import Path

import jax

from mjx_walker.configs import EnvConfig
from mjx_walker.observation import actor_layout, critic_layout
from mjx_walker.policy import Policy, init_policy_params, make_networks, policy_mirrors, save_policy
from mjx_walker.ppo_config import PPOConfig

SMALL_PPO = PPOConfig(policy_hidden_layer_sizes=(32, 32), value_hidden_layer_sizes=(32, 32))


def small_policy(nu: int, env_cfg: EnvConfig | None = None, seed: int = 0) -> Policy:
    """An untrained (32, 32) policy for the default env config."""
    env_cfg = env_cfg or EnvConfig()
    a, c = actor_layout(nu).size, critic_layout(nu).size
    networks = make_networks(a, c, nu, SMALL_PPO, policy_mirrors({}, env_cfg, SMALL_PPO))
    p = init_policy_params(networks, a, c, jax.random.PRNGKey(seed))
    return Policy(env_cfg, SMALL_PPO, p["normalizer"], p["params"], networks)


def save_small_policy(path: Path, nu: int, env_cfg: EnvConfig | None = None) -> Path:
    """Write a small untrained policy directory and return its path."""
    pol = small_policy(nu, env_cfg)
    return save_policy(path, pol.env_cfg, pol.ppo_cfg, pol.normalizer, pol.params)


_EXPORTS: dict[str, object] = {}


def exported_policy(env: object) -> object:
    """ExportResult of a small untrained policy for ``env`` (exported once per session)."""
    if "result" not in _EXPORTS:
        import tempfile

        from mjx_walker.export import export_policy

        root = Path(tempfile.mkdtemp(prefix="mjx_walker_export_"))
        run_dir = root / "run"
        save_small_policy(run_dir / "policy", env.robot.nu, env.cfg)
        _EXPORTS["result"] = export_policy(run_dir, root / "policy.onnx", env=env, rollout_steps=20)
        _EXPORTS["run_dir"] = run_dir
    return _EXPORTS["result"]


def export_run_dir() -> Path:
    """Run dir of the session's exported small policy (call exported_policy first)."""
    return _EXPORTS["run_dir"]  # type: ignore[return-value]


class ZeroPolicy:
    """Stands in for OnnxPolicy: the metadata of a real export, zero actions, no onnxruntime."""

    provider = "fake"

    def __init__(self, meta: object) -> None:
        self.meta = meta
        self.path = Path("fake.onnx")

    def __call__(self, obs: object) -> object:
        import numpy as np

        return np.zeros(self.meta.nu, np.float32)  # type: ignore[attr-defined]


def scripted_backend_class() -> type:
    """A RobotBackend whose ground truth is scripted per control tick (imported lazily: no MuJoCo)."""
    import numpy as np

    from mjx_walker.runner.backend import RobotBackend, RobotState, SimClock

    class ScriptedBackend(RobotBackend):
        """Upright, fresh sensor readings; base velocity ``script(tick) -> (vx, vy, yaw)``; falls at ``fall_at``."""

        def __init__(self, meta, script, fall_at: float | None = None) -> None:
            self.meta, self.script, self.fall_at = meta, script, fall_at
            self.clock = SimClock()
            self.kicks: list[tuple[float, tuple[float, float]]] = []

        def tick(self) -> int:
            return int(round(self.clock.now() / self.meta.ctrl_dt))

        def read_state(self) -> RobotState:
            pos = np.asarray(self.meta.default_joint_pos)
            z = np.zeros(3)
            return RobotState(self.clock.now(), pos, np.zeros_like(pos), z, np.array([0.0, 0.0, -1.0]))

        def write_targets(self, targets, kp, kd) -> None:
            pass

        def damp(self, kd) -> None:
            pass

        def base_linvel(self) -> np.ndarray:
            vx, vy, _ = self.script(self.tick())
            return np.array([vx, vy, 0.0])

        def base_yaw_rate(self) -> float:
            return float(self.script(self.tick())[2])

        def fallen(self, min_height_fraction: float, max_tilt_rad: float) -> bool:
            return self.fall_at is not None and self.clock.now() >= self.fall_at - 1e-9

        def kick(self, velocity_xy) -> None:
            self.kicks.append((self.clock.now(), tuple(float(v) for v in velocity_xy)))

    return ScriptedBackend


_META: dict[str, object] = {}


def small_meta() -> object:
    """PolicyMeta of the default EnvConfig's robot (built from MuJoCo C only: no JAX compile, no export)."""
    if "meta" not in _META:
        from mjx_walker.model import build_robot_model
        from mjx_walker.onnx_meta import build_meta

        _META["meta"] = build_meta(EnvConfig(), SMALL_PPO, build_robot_model(EnvConfig().robot.name))
    return _META["meta"]


def faulty_backend_class() -> type:
    """A RobotBackend that fails on demand and logs every call (imported lazily: no MuJoCo)."""
    import numpy as np

    from mjx_walker.runner.backend import RobotBackend, RobotState, SimClock

    class FaultyBackend(RobotBackend):
        """A robot standing in its default pose on a SimClock; ``calls`` logs read/write/damp in order.

        ``read_fails_at`` / ``write_fails_at``: the index (0 = first call) of the read or write that
        raises ``error``; ``damp_fails``: every damp raises OSError; ``read_cost_s``: each read takes
        this long on the clock (deadline misses).
        """

        def __init__(
            self,
            meta: object,
            read_fails_at: int | None = None,
            write_fails_at: int | None = None,
            error: BaseException | None = None,
            damp_fails: bool = False,
            read_cost_s: float = 0.0,
        ) -> None:
            self.meta = meta
            self.clock = SimClock()
            self.read_fails_at, self.write_fails_at = read_fails_at, write_fails_at
            self.error = error if error is not None else OSError("CAN bus: no reply from joint 3")
            self.damp_fails, self.read_cost_s = damp_fails, read_cost_s
            self.calls: list[str] = []
            self.reads = self.writes = 0

        def read_state(self) -> RobotState:
            self.calls.append("read")
            self.reads += 1
            if self.reads - 1 == self.read_fails_at:
                raise self.error
            self.clock.sleep_until(self.clock.now() + self.read_cost_s)
            pos = np.asarray(self.meta.default_joint_pos, float)  # type: ignore[attr-defined]
            z = np.zeros(3)
            return RobotState(self.clock.now(), pos, np.zeros_like(pos), z, np.array([0.0, 0.0, -1.0]))

        def write_targets(self, targets: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> None:
            self.calls.append("write")
            self.writes += 1
            if self.writes - 1 == self.write_fails_at:
                raise self.error

        def damp(self, kd: np.ndarray) -> None:
            self.calls.append("damp")
            if self.damp_fails:
                raise OSError("damp: driver offline")

    return FaultyBackend
