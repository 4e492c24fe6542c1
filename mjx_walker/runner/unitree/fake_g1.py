"""A simulated Unitree G1 that speaks the robot's own DDS protocol: ``python -m mjx_walker.runner.unitree.fake_g1``.

MuJoCo C runs the G1 of the robot-asset package in real time. Every physics step (2 ms) it applies
the motors' PD law from the newest accepted ``LowCmd_`` (``tau = kp (q - q_m) + kd (dq - dq_m) +
tau``, clipped at each motor's torque limit; a motor in mode 0 is off) and publishes a signed
``LowState_`` with ``tick`` in ms, the IMU, every motor, and the remote.

Like the robot it stands in for, it drops a command with a bad CRC or the wrong ``mode_machine``
(logged), and damps itself (kp = 0, kd = ``--damping-kd``) when commands stop for ``--timeout-s``.
It starts hanging in a gantry (a spring on the pelvis, as a robot hangs from its crane while the
controller comes up); ``--release-s`` lowers it onto its feet after that many seconds (never, by
default). ``--press start@3`` scripts a press of the remote's start button at 3 s.
Events go to stdout, one line each, prefixed with the simulated time.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import mujoco
import numpy as np

from mjx_walker.configs import SimConfig
from mjx_walker.model import build_robot_model
from mjx_walker.runner.unitree import dds
from mjx_walker.runner.unitree.crc import low_cmd_crc, low_state_crc
from mjx_walker.runner.unitree.g1_backend import motor_slots
from mjx_walker.runner.unitree.hg_types import LOW_CMD_TOPIC, LOW_STATE_TOPIC, LowCmd_, LowState_
from mjx_walker.runner.unitree.messages import MODE_ON, remote_bytes
from mjx_walker.sensing import imu_reading

SIM_DT = 0.002  # s: one physics step per published state (500 Hz)
MODE_MACHINE = 5  # the G1's mode_machine (29 DoF); commands must repeat it
# The gantry: a spring and damper on the pelvis's position (N/m, N·s/m) and attitude (N·m/rad,
# N·m·s/rad), soft enough for explicit integration with the limbs hanging limp from the pelvis.
GANTRY_K, GANTRY_C = 2000.0, 200.0
GANTRY_K_ROT, GANTRY_C_ROT = 200.0, 10.0


@dataclass
class Press:
    """A scripted button press: ``button`` held from ``at_s`` for ``hold_s`` seconds of simulated time."""

    button: str
    at_s: float
    hold_s: float = 0.2


@dataclass
class Log:
    """The fake robot's counters, and its events as lines."""

    accepted: int = 0
    bad_crc: int = 0
    bad_machine: int = 0
    lines: list[str] = field(default_factory=list)

    def event(self, t: float, text: str) -> None:
        """Print and keep ``text`` at simulated time ``t``."""
        line = f"[fake_g1 {t:7.3f} s] {text}"
        self.lines.append(line)
        print(line, flush=True)


class FakeG1:
    """The simulated robot; :meth:`run` steps it in real time until stopped."""

    def __init__(self, domain_id: int, interface: str, timeout_s: float = 0.1, damping_kd: float = 8.0) -> None:
        """Build the model and join the DDS domain."""
        self.robot = build_robot_model("g1", SimConfig(sim_dt=SIM_DT, ctrl_dt=0.02))
        self.model, self.data = self.robot.mj_model, mujoco.MjData(self.robot.mj_model)
        self.data.qpos[:] = self.robot.default_qpos
        mujoco.mj_forward(self.model, self.data)
        self.motors = motor_slots("g1", self.robot.joint_names)
        self.timeout_s, self.damping_kd = timeout_s, damping_kd
        self.log = Log()
        self.presses: list[Press] = []
        self.gantry, self.release_s = True, math.inf
        self._anchor = (self.data.qpos[0:3].copy(), self.data.qpos[3:7].copy())
        self._domain, self._dp = dds.participant(domain_id, interface)
        self._writer, self._reader, self._latest = dds.endpoints(
            self._dp, LOW_CMD_TOPIC, LowCmd_, LOW_STATE_TOPIC, LowState_, accept=self._accept
        )
        self._state = LowState_()
        self._mode = "off"  # off (no command yet), commanded, zero torque, damping (kp = 0), timeout (damping)
        self.stop = threading.Event()

    def _accept(self, cmd: LowCmd_) -> bool:
        """Whether a command is the robot's to obey: its CRC and ``mode_machine`` right."""
        if cmd.crc != low_cmd_crc(cmd):
            self.log.bad_crc += 1
            self.log.event(self.data.time, f"rejected a command: crc {cmd.crc:#010x} is wrong")
            return False
        if cmd.mode_machine != MODE_MACHINE:
            self.log.bad_machine += 1
            self.log.event(self.data.time, f"rejected a command: mode_machine {cmd.mode_machine} != {MODE_MACHINE}")
            return False
        self.log.accepted += 1
        return True

    def torques(self) -> np.ndarray:
        """Motor torques (nu,) N·m from the newest command, damping on a timeout, zero before any."""
        r, d = self.robot, self.data
        q, dq = d.qpos[r.qpos_adr], d.qvel[r.dof_adr]
        cmd, arrived = self._latest.get()
        if cmd is None:
            return np.zeros(r.nu)
        if time.perf_counter() - arrived > self.timeout_s:
            self._set_mode("timeout", f"no command for {self.timeout_s * 1e3:.0f} ms: damping (kd {self.damping_kd:g})")
            return np.clip(-self.damping_kd * dq, -r.torque_limit, r.torque_limit)
        m = [cmd.motor_cmd[int(i)] for i in self.motors]
        on = np.array([c.mode == MODE_ON for c in m])
        kp, kd = np.array([c.kp for c in m]), np.array([c.kd for c in m])
        limp = on.all() and not kp.any()
        self._set_mode(("damping" if kd.any() else "zero torque") if limp else "commanded", "")
        tau = kp * (np.array([c.q for c in m]) - q) + kd * (np.array([c.dq for c in m]) - dq)
        tau += np.array([c.tau for c in m])
        return np.where(on, np.clip(tau, -r.torque_limit, r.torque_limit), 0.0)

    def _set_mode(self, mode: str, why: str) -> None:
        """Log a change of what the motors do."""
        if mode != self._mode:
            self._mode = mode
            self.log.event(
                self.data.time, why or f"motors {mode}" + (" (kp = 0 commanded)" if mode == "damping" else "")
            )

    def _hold_in_gantry(self) -> None:
        """A spring and damper holding the pelvis at its start pose (while :attr:`gantry`)."""
        d, body = self.data, self.robot.root_body
        d.xfrc_applied[body] = 0.0
        if not self.gantry:
            return
        pos, quat = self._anchor
        d.xfrc_applied[body, 0:3] = GANTRY_K * (pos - d.qpos[0:3]) - GANTRY_C * d.qvel[0:3]
        err = np.zeros(3)  # the rotation from the pelvis's attitude back to the anchor's, in the pelvis frame
        mujoco.mju_subQuat(err, quat, d.qpos[3:7])
        rot = d.xmat[body].reshape(3, 3)  # pelvis -> world (the free joint's angular velocity is local)
        d.xfrc_applied[body, 3:6] = rot @ (GANTRY_K_ROT * err - GANTRY_C_ROT * d.qvel[3:6])

    def remote(self) -> list[int]:
        """The remote's bytes now: the scripted presses that are held."""
        t = self.data.time
        held = {p.button for p in self.presses if p.at_s <= t < p.at_s + p.hold_s}
        if self.gantry and t >= self.release_s:
            self.gantry = False
            self.log.event(t, "released from the gantry")
        return remote_bytes(held)

    def step(self) -> None:
        """One physics step with the motors' torques, then publish the state."""
        self.data.ctrl[:] = self.torques()
        self._hold_in_gantry()
        mujoco.mj_step(self.model, self.data)
        self._writer.write(self.state())

    def state(self) -> LowState_:
        """The signed LowState_ of the simulation now."""
        r, d, s = self.robot, self.data, self._state
        s.mode_machine, s.tick = MODE_MACHINE, int(round(d.time * 1e3))
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, d.site_xmat[r.imu_site])
        gyro, _ = imu_reading(
            d.site_xmat[r.imu_site].reshape(3, 3), d.cvel[int(self.model.site_bodyid[r.imu_site]), :3]
        )
        s.imu_state.quaternion, s.imu_state.gyroscope = [float(v) for v in quat], [float(v) for v in gyro]
        for j, i in enumerate(self.motors):
            s.motor_state[int(i)].q = float(d.qpos[r.qpos_adr[j]])
            s.motor_state[int(i)].dq = float(d.qvel[r.dof_adr[j]])
        s.wireless_remote = self.remote()
        s.crc = low_state_crc(s)
        return s

    def fallen(self) -> bool:
        """Whether the pelvis is below half its standing height."""
        return float(self.data.qpos[2]) < 0.5 * self.robot.standing_height

    def run(self, duration_s: float) -> None:
        """Step in real time for ``duration_s`` s of simulated time (or until :attr:`stop` is set)."""
        start, fell = time.perf_counter(), False
        self.log.event(0.0, f"publishing {LOW_STATE_TOPIC} at {1 / SIM_DT:.0f} Hz, waiting for {LOW_CMD_TOPIC}")
        while self.data.time < duration_s and not self.stop.is_set():
            self.step()
            if not fell and self.fallen():
                fell = True
                self.log.event(self.data.time, "FELL: pelvis below half its standing height")
            time.sleep(max(0.0, start + self.data.time - time.perf_counter()))
        height = float(self.data.qpos[2]) / self.robot.standing_height
        self.log.event(
            self.data.time,
            f"done: pelvis at {height:.2f} of standing height; commands accepted {self.log.accepted}, "
            f"bad crc {self.log.bad_crc}, bad mode_machine {self.log.bad_machine}",
        )


def parse_press(text: str) -> Press:
    """``BUTTON@SECONDS`` as a Press."""
    button, _, at = text.partition("@")
    try:
        return Press(button, float(at))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--press {text!r}: expected BUTTON@SECONDS, e.g. start@3") from None


def main(argv: list[str] | None = None) -> int:
    """CLI: run the simulated G1 until ``--duration`` or a signal."""
    parser = argparse.ArgumentParser(
        prog="python -m mjx_walker.runner.unitree.fake_g1", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--domain", type=int, required=True, help="DDS domain id (not 0: that is the real robot's)")
    parser.add_argument("--interface", required=True, help="network interface, e.g. lo")
    parser.add_argument("--duration", type=float, default=30.0, help="simulated seconds to run")
    parser.add_argument("--timeout-s", type=float, default=0.1, help="damp when commands stop this long")
    parser.add_argument("--damping-kd", type=float, default=8.0)
    parser.add_argument("--press", type=parse_press, action="append", default=[], metavar="BUTTON@S")
    parser.add_argument("--release-s", type=float, default=math.inf, help="lower it from the gantry at this time")
    args = parser.parse_args(argv)
    if args.domain == dds.REAL_DOMAIN:
        parser.error("--domain 0 is the real robot's network; a simulated robot runs on another, e.g. 1")
    robot = FakeG1(args.domain, args.interface, args.timeout_s, args.damping_kd)
    robot.presses, robot.release_s = args.press, args.release_s
    signal.signal(signal.SIGTERM, lambda *_: robot.stop.set())
    try:
        robot.run(args.duration)
    except KeyboardInterrupt:
        robot.stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
