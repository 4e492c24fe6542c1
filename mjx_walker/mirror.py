"""Left-right mirror symmetry of a robot: which joint mirrors which, and the observation's mirror.

A humanoid is mirror-symmetric about its sagittal (x-z) plane. Mirroring a state swaps each left
joint with its right partner; a joint whose axis mirrors onto its partner's reversed (hip roll,
hip yaw, ankle roll, waist yaw) also changes sign. Both come from the model itself: partners by
name (``left``/``right``, ``LL``/``LR``, ``l_``/``r_``), signs from the joint axes in the base
frame at the standing pose. The observation's mirror follows each term's rule in
:data:`mjx_walker.obs_terms.TERMS` (NumPy only: export and runner tests use it without JAX).

A policy built as ``pi(s) = (f(s) + M_a f(M_o s)) / 2`` is exactly mirror-equivariant for any
network ``f``, since ``M`` is its own inverse (:mod:`mjx_walker.policy`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mjx_walker.obs_terms import TERMS, term_size

# (left, right) name patterns; the first that matches a joint name gives its partner
_SIDES = (("left", "right"), ("Left", "Right"), ("LL_", "LR_"), ("l_", "r_"), ("L_", "R_"))
AXIS_TOL = 0.9  # |cos| of the angle between a mirrored axis and its partner's


class MirrorError(ValueError):
    """The robot is not mirror-symmetric as its names and axes say (no partner, or axes disagree)."""


@dataclass(frozen=True)
class Mirror:
    """A mirror map: ``x_mirrored = x[perm] * sign`` (both (n,)); applying it twice is the identity."""

    perm: np.ndarray  # (n,) int
    sign: np.ndarray  # (n,) float32, +1 or -1

    def __call__(self, x: Any) -> Any:  # noqa: ANN401 - NumPy or JAX arrays (..., n)
        """``x`` (..., n) mirrored."""
        return x[..., self.perm] * self.sign

    def matrix(self) -> np.ndarray:
        """The signed permutation matrix P (n, n), float32: ``x @ P`` is ``x`` mirrored."""
        n = len(self.perm)
        out = np.zeros((n, n), np.float32)
        out[self.perm, np.arange(n)] = self.sign
        return out


def partner_name(name: str, names: Sequence[str]) -> str:
    """The joint in ``names`` that mirrors ``name`` (itself for a joint on the midline)."""
    for left, right in _SIDES:
        for a, b in ((left, right), (right, left)):
            if re.search(rf"(^|_){re.escape(a)}", name) or name.startswith(a):
                other = name.replace(a, b, 1)
                if other in names:
                    return other
    return name


def _mirrored_axis(axis: np.ndarray) -> np.ndarray:
    """A rotation axis (3,) (a pseudovector) reflected through the x-z plane."""
    return np.array([-axis[0], axis[1], -axis[2]])


def joint_mirror(robot: Any) -> Mirror:  # noqa: ANN401 - a RobotModel
    """The mirror of the robot's actuated joints (action order), from names and axes at the standing pose."""
    import mujoco

    m = robot.mj_model
    d = mujoco.MjData(m)
    d.qpos[:] = robot.default_qpos
    mujoco.mj_kinematics(m, d)
    base = d.xmat[robot.root_body].reshape(3, 3)
    names = list(robot.joint_names)
    axes = [base.T @ d.xaxis[m.dof_jntid[adr]] for adr in robot.dof_adr]
    perm = np.array([names.index(partner_name(n, names)) for n in names])
    sign = np.empty(len(names), np.float32)
    for i, j in enumerate(perm):
        cos = float(_mirrored_axis(axes[i]) @ axes[j])
        if abs(cos) < AXIS_TOL:
            raise MirrorError(
                f"{robot.spec.name}: joint {names[i]!r} does not mirror onto {names[j]!r} "
                f"(mirrored axes at {np.degrees(np.arccos(min(abs(cos), 1))):.0f} deg)"
            )
        sign[i] = np.sign(cos)
    return Mirror(perm, sign)


# Fixed-size terms: (perm, sign) within the term; per-joint terms use the joints' mirror.
_VECTOR = ((0, 1, 2), (1, -1, 1))  # a vector: y flips
_PSEUDO = ((0, 1, 2), (-1, 1, -1))  # an angular velocity: x and z flip
_TERM_MIRRORS: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = {
    "base_linvel": _VECTOR,
    "gyro": _PSEUDO,
    "gravity": _VECTOR,
    "command": ((0, 1, 2), (1, -1, -1)),  # vx stays, vy and the yaw rate flip
    "gait_phase": ((1, 0, 3, 2), (1, 1, 1, 1)),  # the feet's clocks swap
    "gait_phase_cos": ((1, 0), (1, 1)),
    "gait_phase_sin": ((1, 0), (1, 1)),
}


def obs_mirror(terms: Sequence[str], joints: Mirror) -> Mirror:
    """The mirror of an observation of ``terms`` (in order) for a robot whose joints mirror as ``joints``."""
    nu = len(joints.perm)
    perm, sign, start = [], [], 0
    for name in terms:
        if name not in TERMS:
            raise MirrorError(f"unknown observation term {name!r}")
        if TERMS[name].per_joint:
            perm += list(start + joints.perm)
            sign += list(joints.sign)
        else:
            p, s = _TERM_MIRRORS[name]
            perm += [start + i for i in p]
            sign += list(s)
        start += term_size(name, nu)
    return Mirror(np.array(perm), np.array(sign, np.float32))
