"""Left-right mirror symmetry: the maps from names and axes, the physics agreeing with them, the symmetric actor."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_walker.configs import EnvConfig, RobotConfig
from mjx_walker.mirror import Mirror, joint_mirror, obs_mirror, partner_name
from mjx_walker.model import build_robot_model
from mjx_walker.obs_terms import ACTOR_TERMS
from mjx_walker.ppo_config import PPOConfig
from mjx_walker.randomization import nominal_params

STEPS = 2  # control steps of the mirrored-physics check
# The simulated robot is mirror-symmetric only up to its contacts: even MuJoCo C in float64 at 50
# solver iterations puts mirrored actions 2.7e-3 rad off mirrored joints after 0.2 s (its contact
# points are not chosen symmetrically), and the gap grows as the trajectories part. Over 2 control
# steps the mirror error measured 1.6 % of the distance between the two runs; a map with one
# wrong sign is off by about as much as that distance.
MIRROR_REL_TOL = 0.05


def test_partners_by_name():
    names = ["LL_HR", "LR_HR", "left_knee", "right_knee", "Waist", "l_ankle", "r_ankle"]
    assert [partner_name(n, names) for n in names] == [
        "LR_HR",
        "LL_HR",
        "right_knee",
        "left_knee",
        "Waist",
        "r_ankle",
        "l_ankle",
    ]


def test_berkeley_humanoid_mirrors_roll_and_yaw_joints_with_a_sign():
    robot = build_robot_model("berkeley_humanoid")
    m = joint_mirror(robot)
    names = list(robot.joint_names)
    for i, name in enumerate(names):
        partner = names[m.perm[i]]
        assert partner == name.replace("LL_", "LR_") if name.startswith("LL_") else name.replace("LR_", "LL_")
        # hip rotation (HR), hip and foot ab/adduction (HAA, FAA) flip; flexion/extension does not
        assert m.sign[i] == (-1 if name[3:] in ("HR", "HAA", "FAA") else 1), name
    np.testing.assert_array_equal(m(robot.default_joint_pos), robot.default_joint_pos)  # a symmetric stance


@pytest.mark.parametrize("name", ["berkeley_humanoid", "t1", "g1", "h1"])
def test_every_listed_robot_mirrors_onto_itself(name):
    robot = build_robot_model(name)
    m = joint_mirror(robot)
    x = np.arange(robot.nu, dtype=float) + 1
    np.testing.assert_array_equal(m(m(x)), x)  # its own inverse
    np.testing.assert_allclose(m(robot.default_joint_pos), robot.default_joint_pos, atol=1e-9)
    np.testing.assert_allclose(robot.kp[m.perm], robot.kp)


def test_observation_mirror_by_hand():
    joints = Mirror(np.array([1, 0]), np.array([-1.0, 1.0], np.float32))
    m = obs_mirror(("gyro", "gravity", "joint_pos", "command", "gait_phase"), joints)
    x = np.arange(1.0, 16.0)  # gyro 1-3, gravity 4-6, joints 7-8, command 9-11, phase 12-15
    np.testing.assert_array_equal(m(x), [-1, 2, -3, 4, -5, 6, -8, 7, 9, -10, -11, 13, 12, 15, 14])
    np.testing.assert_array_equal(x @ m.matrix(), m(x))


def test_the_physics_mirrors_as_the_maps_say(batched, default_env):
    """From the (symmetric) standing pose, actions a and M a give observations o and M o, step by step."""
    reset, step = batched
    env = default_env
    robot = env.robot
    joints = joint_mirror(robot)
    obs_m = obs_mirror(ACTOR_TERMS, joints)
    n = 16  # the session's compiled batch (tests/test_env.py): env 0 gets a, env 1 M a, the rest idle
    state, _ = reset(jnp.stack([jax.random.PRNGKey(0)] * n))
    nominal = jax.tree_util.tree_map(lambda x: jnp.stack([x] * n), nominal_params(robot))
    qpos = jnp.tile(jnp.asarray(robot.default_qpos, jnp.float32), (n, 1))
    # the solver's warm start, left by the reset at its perturbed pose, is not symmetric: cleared
    data = state.data.replace(
        qpos=qpos, qvel=jnp.zeros_like(state.data.qvel), qacc_warmstart=jnp.zeros_like(state.data.qacc_warmstart)
    )
    state = state.replace(
        data=data,
        params=nominal,
        command=jnp.tile(jnp.array([0.3, 0.0, 0.0], jnp.float32), (n, 1)),
        last_action=jnp.zeros_like(state.last_action),
        steps_to_push=jnp.full_like(state.steps_to_push, 1000),
        steps_to_resample=jnp.full_like(state.steps_to_resample, 1000),
    )
    rng = np.random.default_rng(0)
    actor_dim = obs_m.perm.size
    keep = np.ones(actor_dim, bool)
    assert ACTOR_TERMS[-1] == "gait_phase"
    keep[-4:] = False  # both runs start with the same clock (not its mirror): compare the rest
    worst, moved = 0.0, 0.0
    for _ in range(STEPS):
        a = rng.uniform(-0.5, 0.5, robot.nu).astype(np.float32)
        state, out = step(state, jnp.stack([jnp.asarray(a), jnp.asarray(joints(a))] + [jnp.zeros_like(a)] * (n - 2)))
        clean = np.asarray(out.obs.critic[:, :actor_dim])  # the noise-free actor observation
        diff = np.abs(clean[1] - obs_m(clean[0]))
        worst = max(worst, float(diff[keep].max()))
        moved = max(moved, float(np.abs(clean[0] - clean[1])[keep].max()))
    assert moved > 1.0  # the two runs did part (rad/s): they are mirror images, not copies
    assert worst < MIRROR_REL_TOL * moved, (worst, moved)


def test_the_symmetric_actor_is_mirror_equivariant_for_any_parameters():
    from mjx_walker.policy import Policy, init_policy_params, make_networks, robot_mirrors

    env = EnvConfig(robot=RobotConfig(name="berkeley_humanoid"))
    ppo = PPOConfig(symmetric_policy=True, policy_hidden_layer_sizes=(32, 32))
    obs_m, act_m = robot_mirrors(env)
    actor, nu = obs_m.perm.size, act_m.perm.size
    nets = make_networks(actor, 10, nu, ppo, (obs_m, act_m))
    for seed in range(3):
        p = init_policy_params(nets, actor, 10, jax.random.PRNGKey(seed))
        policy = Policy(env, ppo, p["normalizer"], p["params"], nets)
        s = jax.random.normal(jax.random.PRNGKey(10 + seed), (8, actor))
        a, a_mirrored = np.asarray(policy.act(s)), np.asarray(policy.act(obs_m(s)))
        np.testing.assert_allclose(a_mirrored, act_m(a), atol=1e-6)
        assert np.abs(a).max() > 0.05  # not trivially zero
    plain = make_networks(actor, 10, nu, ppo.replace(symmetric_policy=False))
    p = init_policy_params(plain, actor, 10, jax.random.PRNGKey(0))
    a = np.asarray(Policy(env, ppo, p["normalizer"], p["params"], plain).act(s))
    assert (
        np.abs(np.asarray(Policy(env, ppo, p["normalizer"], p["params"], plain).act(obs_m(s))) - act_m(a)).max() > 1e-3
    )


def test_a_symmetric_policy_exports_to_onnx_and_stays_symmetric():
    from mjx_walker.export import onnx_actions, to_onnx_model
    from mjx_walker.policy import Policy, init_policy_params, make_networks, robot_mirrors

    env = EnvConfig()
    ppo = PPOConfig(symmetric_policy=True, policy_hidden_layer_sizes=(32, 32), value_hidden_layer_sizes=(32, 32))
    obs_m, act_m = robot_mirrors(env)
    actor, nu = obs_m.perm.size, act_m.perm.size
    nets = make_networks(actor, 10, nu, ppo, (obs_m, act_m))
    p = init_policy_params(nets, actor, 10, jax.random.PRNGKey(4))
    policy = Policy(env, ppo, p["normalizer"], p["params"], nets)
    model = to_onnx_model(policy, actor)
    obs = np.random.default_rng(0).normal(size=(16, actor)).astype(np.float32)
    onnx_a = onnx_actions(model, obs)
    np.testing.assert_allclose(onnx_a, np.asarray(policy.act(jnp.asarray(obs))), atol=1e-5)
    np.testing.assert_allclose(onnx_actions(model, obs_m(obs).astype(np.float32)), act_m(onnx_a), atol=1e-5)
