"""Which order of the model's joints a deploy.yaml's policy joints are in, when no file names them:
Isaac Lab's breadth first or mjlab's model order (depth first), decided from evidence."""

from __future__ import annotations

import pytest

from sim2real.errors import PolicyError
from sim2real.policy.imports.joint_order import (
    check_default_pose,
    choose_order,
    model_joints_of,
    policy_joints,
)


def legs(tmp_path, actuators: tuple[str, ...] = (), hip=(-1.0, 1.0), knee=(-2.5, -0.5)):
    """Two legs of a hip and a knee: model order L_hip, L_knee, R_hip, R_knee; breadth first
    L_hip, R_hip, L_knee, R_knee."""
    leg = (
        "<body name='{s}_thigh' pos='0 {y} 0'><joint name='{s}_hip' axis='0 1 0' range='{h0} {h1}'/>"
        "<geom type='capsule' fromto='0 0 0 0 0 -0.2' size='0.02'/><body name='{s}_shin' pos='0 0 -0.2'>"
        "<joint name='{s}_knee' axis='0 1 0' range='{k0} {k1}'/><geom type='capsule' fromto='0 0 0 0 0 -0.2' "
        "size='0.02'/></body></body>"
    )
    body = "".join(leg.format(s=s, y=y, h0=hip[0], h1=hip[1], k0=knee[0], k1=knee[1]) for s, y in (("L", 0.1), ("R", -0.1)))
    motors = "".join(f"<motor name='{j}' joint='{j}'/>" for j in actuators)
    path = tmp_path / "legs.xml"
    path.write_text(
        f"<mujoco><compiler angle='radian'/><worldbody><body name='base'><freejoint/><geom size='0.1'/>{body}</body></worldbody>"
        f"<actuator>{motors}</actuator></mujoco>"
    )
    return path


class TestChooseOrder:
    def test_the_order_in_which_the_default_pose_fits_every_range_is_chosen(self, tmp_path):
        facts = model_joints_of(legs(tmp_path))
        assert facts.breadth == ["L_hip", "R_hip", "L_knee", "R_knee"] and facts.depth == ["L_hip", "L_knee", "R_hip", "R_knee"]
        # unitree_rl_mjlab: default_joint_pos by policy joint in model order
        order, note = choose_order({"joint_ids_map": [0, 1, 2, 3], "default_joint_pos": [0.1, -1.5, 0.1, -1.5]}, facts)
        assert order == facts.depth
        assert "model order, depth first (mjlab's" in note and "does not fit breadth first" in note and "'R_hip'" in note
        # unitree_rl_lab: breadth first
        order, note = choose_order({"joint_ids_map": [0, 2, 1, 3], "default_joint_pos": [0.1, 0.1, -1.5, -1.5]}, facts)
        assert order == facts.breadth and "does not fit model order" in note

    def test_where_both_fit_a_permuted_map_matching_the_actuators_decides_else_one_error_line(self, tmp_path):
        cfg = {"joint_ids_map": [1, 0, 3, 2], "default_joint_pos": [-0.5] * 4}  # the pose fits either order
        wide = {"hip": (-1.0, 1.0), "knee": (-1.0, 1.0)}
        facts = model_joints_of(legs(tmp_path, ("L_knee", "L_hip", "R_knee", "R_hip"), **wide))
        order, note = choose_order(cfg, facts)  # depth order's motors [L_knee, L_hip, ...] are the actuators'
        assert order == facts.depth and "gives the model's actuator order as the motor order" in note
        facts = model_joints_of(legs(tmp_path, ("R_hip", "L_hip", "R_knee", "L_knee"), **wide))
        assert choose_order(cfg, facts)[0] == facts.breadth
        # an identity map matches any order's actuators: it took mjlab's order for an Isaac Lab policy
        identity = {"joint_ids_map": [0, 1, 2, 3], "default_joint_pos": [-0.5] * 4}
        for actuators in (("L_hip", "L_knee", "R_hip", "R_knee"), ()):
            facts = model_joints_of(legs(tmp_path, actuators, **wide))
            with pytest.raises(PolicyError, match=r"fits both Isaac Lab's joint order .* and mjlab's .* --motor-order"):
                choose_order(identity, facts)
        facts = model_joints_of(legs(tmp_path, **wide))  # no actuators: nothing tells
        with pytest.raises(PolicyError, match="nothing else in the files tells them apart"):
            choose_order(cfg, facts)

    def test_the_choice_is_the_recorded_assumption(self, tmp_path):
        facts = model_joints_of(legs(tmp_path))
        order, note = choose_order({"joint_ids_map": [1, 0, 3, 2], "default_joint_pos": [0.1, -1.5, 0.1, -1.5]}, facts)
        joints, _, motors, assumed = policy_joints([1, 0, 3, 2], "deploy.yaml", tree_order=order, order_note=note)
        assert joints == facts.depth and motors == ["L_knee", "L_hip", "R_knee", "R_hip"]
        assert assumed == [f"{note}; the motor order follows from joint_ids_map"]

    def test_a_pose_no_order_fits_is_still_one_error_line(self, tmp_path):
        facts = model_joints_of(legs(tmp_path))
        order, _ = choose_order({"joint_ids_map": [0, 1, 2, 3], "default_joint_pos": [3.0] * 4}, facts)
        with pytest.raises(PolicyError, match=r"default position 3 of policy joint 'L_hip' is outside .* --motor-order"):
            check_default_pose(facts.ranges, order, [3.0] * 4)
