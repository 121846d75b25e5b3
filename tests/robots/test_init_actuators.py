"""Per-joint options of robot init (one value, or keys that are joint names or regular expressions),
and the actuators it reads from a model."""

from __future__ import annotations

import math

import mujoco
import pytest

from sim2real.errors import SpecError
from sim2real.robots.init_actuators import infer_actuators, lookup, per_joint, unmatched

JOINTS = ["FL_thigh_joint", "RL_thigh_joint", "FL_calf_joint", "arm[0]"]


class TestLookup:
    def test_the_last_matching_key_wins(self):
        values = {".*": 1.0, ".*_thigh_joint": 2.0, "RL_thigh_joint": 3.0}
        assert [lookup(values, j) for j in JOINTS] == [2.0, 3.0, 1.0, 1.0]

    def test_a_name_that_is_not_a_valid_regex_matches_itself(self):
        assert lookup({"arm[0]": 5.0}, "arm[0]") == 5.0
        assert lookup({"arm[0]": 5.0}, "FL_calf_joint") is None

    def test_keys_are_matched_in_full(self):
        assert lookup({"thigh": 1.0}, "FL_thigh_joint") is None
        assert unmatched({"thigh": 1.0, "FL_.*": 2.0}, JOINTS) == "thigh"
        assert unmatched({"FL_.*": 2.0, "arm[0]": 1.0}, JOINTS) is None


class TestPerJoint:
    def test_one_value_for_every_joint_or_a_map(self):
        assert per_joint(25.0, "FL_calf_joint", "--kp") == 25.0
        assert per_joint({".*_calf_joint": 40.0}, "FL_calf_joint", "--kp") == 40.0
        assert per_joint(None, "FL_calf_joint", "--kp") is None

    def test_a_joint_no_key_covers_is_one_error(self):
        with pytest.raises(SpecError, match="--kp: no value for joint 'FL_calf_joint'"):
            per_joint({".*_thigh_joint": 40.0}, "FL_calf_joint", "--kp")


class TestInferActuators:
    def test_a_position_actuator_without_kv_has_kd_zero_not_minus_zero(self):
        # Menagerie's ROBOTIS OP3: <position kp=...> with no kv; the spec said "kd: -0.0"
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><worldbody><body><joint name='j' axis='0 1 0' range='-1 1'/><geom size='0.05'/></body>"
            "</worldbody><actuator><position name='a' joint='j' kp='21.1' forcerange='-5 5'/></actuator></mujoco>"
        )
        actuators, _ = infer_actuators(model, [0], ["j"], None, None, None)
        assert actuators["j"]["kp"] == 21.1 and actuators["j"]["kd"] == 0.0
        assert math.copysign(1.0, actuators["j"]["kd"]) == 1.0
