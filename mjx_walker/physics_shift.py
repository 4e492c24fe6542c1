"""A physics shift written once: scaled masses with a payload, and the floor's friction.

Part of the contract between training and robot (NumPy or JAX arrays, JAX never imported here):
training's randomization (:func:`mjx_walker.randomization.apply_params`) and the runner's
simulated robot (:func:`mjx_walker.runner.mujoco_backend.shifted_model`) both shift the nominal
model with these, so ``evaluate`` pins physics exactly as training drew it. Indices are static
(NumPy masks built from the model's sizes); values may be traced.
"""

from __future__ import annotations

import numpy as np

from mjx_walker._xp import xp_of


def shift_masses(mass, inertia, mass_scale, payload, torso: int):  # noqa: ANN001, ANN201
    """Body masses (nbody,) kg and inertias (nbody, 3) kg·m² scaled by ``mass_scale``, plus a payload.

    ``mass_scale``: a scalar or (nbody,) multiplier; ``payload`` kg sits at the torso's COM, so the
    torso's mass grows by it and its inertia in the same proportion.
    """
    xp = xp_of(mass, inertia, mass_scale, payload)
    is_torso = np.arange(mass.shape[0]) == torso
    mass = mass * mass_scale
    inertia = inertia * xp.reshape(xp.asarray(mass_scale), (-1, 1))
    ratio = (mass[torso] + payload) / mass[torso]
    return mass + xp.where(is_torso, payload, 0.0), inertia * xp.where(is_torso, ratio, 1.0)[:, None]


def shift_friction(geom_friction, pair_friction, floor_geom: int, floor_pairs: np.ndarray, friction):  # noqa: ANN001, ANN201
    """Geom (ngeom, 3) and pair (npair, 5) friction with the floor's sliding friction set to ``friction``.

    The floor out-ranks every foot geom in contact priority (``mjx_walker/assets/scene_overrides.xml``),
    so its friction is the friction of every foot-floor contact; explicit floor-foot pairs
    (``floor_pairs`` (p,) pair indices) carry their own, both tangential entries.
    """
    xp = xp_of(geom_friction, pair_friction, friction)
    geom_mask = np.zeros(geom_friction.shape, bool)
    geom_mask[floor_geom, 0] = True
    pair_mask = np.zeros(pair_friction.shape, bool)
    pair_mask[np.asarray(floor_pairs, int), 0:2] = True
    return xp.where(geom_mask, friction, geom_friction), xp.where(pair_mask, friction, pair_friction)


def shift_joints(armature, damping, frictionloss, dofs: np.ndarray, armature_scale, damping_scale, frictionloss_scale):  # noqa: ANN001, ANN201
    """Dof armature, passive damping and friction loss (nv,) with the actuated dofs ``dofs`` (nu,) scaled.

    The scales are (nu,) multipliers, one per actuated joint; other dofs (the floating base) keep theirs.
    """
    select = np.zeros((armature.shape[0], len(dofs)))  # (nv, nu): 1 where dof d is actuated joint j
    select[np.asarray(dofs, int), np.arange(len(dofs))] = 1.0
    keep = 1.0 - select.sum(axis=1)  # (nv,): 1 for dofs no scale applies to

    def scaled(values, scale):  # noqa: ANN001, ANN202
        """``values`` (nv,) times ``scale`` (nu,) at the actuated dofs (exact: products with 0 and 1 only)."""
        return values * (select @ scale + keep)

    return scaled(armature, armature_scale), scaled(damping, damping_scale), scaled(frictionloss, frictionloss_scale)


def shift_com(body_ipos, torso: int, com_offset):  # noqa: ANN001, ANN201
    """Body COM positions (nbody, 3) m with the torso's moved by ``com_offset`` (3,) m (in its body frame)."""
    xp = xp_of(body_ipos, com_offset)
    is_torso = (np.arange(body_ipos.shape[0]) == torso)[:, None]
    return body_ipos + xp.where(is_torso, xp.asarray(com_offset)[None, :], 0.0)
