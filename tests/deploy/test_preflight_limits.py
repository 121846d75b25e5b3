"""Preflight's ``limits`` item against the robot's own model: a spec's torque limit above what the
model's actuator can give at the joint fails it (the spec's actuators replace the model's in the
compiled model, so that model cannot be the reference)."""

from __future__ import annotations

import re

import pytest
import yaml

from sim2real.deploy.preflight import check_limits
from sim2real.errors import SpecError
from sim2real.robots import load_robot
from sim2real.robots.init import init_robot

ARM = """<mujoco model="arm"><worldbody>
<body><joint name="a" axis="0 1 0" range="-1 1" actuatorfrcrange="-3 3"/><geom size="0.05" mass="1"/>
<body pos="0.1 0 0"><joint name="b" axis="0 1 0" range="-1 1"/><geom size="0.05" mass="1"/></body></body>
</worldbody><actuator><motor name="ma" joint="a" gear="5" ctrlrange="-1 1" forcerange="-100 100"/>
<motor name="mb" joint="b" forcerange="-10 10"/></actuator></mujoco>"""


def _spec_with_torque(tmp_path, joint: str, limit: float):
    """The spec robot init writes, with ``joint``'s torque limit edited to ``limit`` (actuator and safety)."""
    (tmp_path / "arm.xml").write_text(ARM)
    spec, _ = init_robot(tmp_path / "arm.xml", tmp_path / "robot.yaml")
    text = spec.path.read_text()
    text = re.sub(rf"({joint}: \{{actuator: m{joint}, .*torque_limit: )[0-9.]+", rf"\g<1>{limit}", text)
    text = re.sub(rf"(joint_torque: \{{.*\b{joint}: )[0-9.]+", rf"\g<1>{limit}", text)
    (tmp_path / "edited.yaml").write_text(text)
    return spec, load_robot(str(tmp_path / "edited.yaml"))


class TestTorqueLimitsAgainstTheModel:
    def test_the_limits_robot_init_writes_pass(self, tmp_path):
        spec, _ = _spec_with_torque(tmp_path, "a", 3.0)
        assert check_limits(spec).status == "pass"

    def test_a_torque_limit_above_the_joints_actuatorfrcrange_fails(self, tmp_path):
        # the motor gives 5 N m (ctrlrange x gear), the joint takes 3: a limit of 100 passed (robot init
        # wrote the motor's forcerange before)
        _, edited = _spec_with_torque(tmp_path, "a", 100.0)
        item = check_limits(edited)
        assert item.status == "fail"
        assert (
            "a: torque limit 100 N m beyond the 3 N m the model's actuator can give the joint"
            in item.evidence
        )

    def test_a_torque_limit_above_the_models_forcerange_fails(self, tmp_path):
        _, edited = _spec_with_torque(tmp_path, "b", 1000.0)
        item = check_limits(edited)
        assert item.status == "fail" and "b: torque limit 1000 N m beyond the 10 N m" in item.evidence


def _accepting(tmp_path, edited, joints):
    """``edited`` with ``safety.torque_above_model: joints``."""
    raw = yaml.safe_load(edited.path.read_text())
    raw["safety"]["torque_above_model"] = joints
    (tmp_path / "accepting.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_robot(str(tmp_path / "accepting.yaml"))


class TestTorqueAboveTheModelAccepted:
    """A vendor MJCF more conservative than the motor: the user had no way to pass the item but to edit
    the robot's model; the spec now names the joints it accepts above it, and only those."""

    def test_a_listed_joint_passes_and_is_named_in_the_evidence_and_the_record(self, tmp_path):
        _, edited = _spec_with_torque(tmp_path, "a", 4.5)
        assert check_limits(edited).status == "fail"  # by default it still fails
        item = check_limits(_accepting(tmp_path, edited, ["a"]))
        assert item.status == "pass"
        assert item.evidence.endswith(
            "torque limits above the robot's own model accepted (safety.torque_above_model): a 4.5 N m (model 3)"
        )
        assert item.as_dict()["torque_above_model"] == {"a": {"limit": 4.5, "model": 3.0}}

    def test_only_the_listed_joints_are_accepted(self, tmp_path):
        _, both = _spec_with_torque(tmp_path, "b", 1000.0)
        raw = yaml.safe_load(both.path.read_text())
        raw["safety"]["joint_torque"]["a"] = 4.5
        raw["actuators"]["a"]["torque_limit"] = 4.5
        raw["safety"]["torque_above_model"] = ["a"]
        (tmp_path / "accepting.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
        item = check_limits(load_robot(str(tmp_path / "accepting.yaml")))
        assert item.status == "fail" and "b: torque limit 1000 N m beyond the 10 N m" in item.evidence
        assert "a: torque limit" not in item.evidence and "safety.torque_above_model): a 4.5" in item.evidence

    def test_a_listed_joint_within_the_model_fails(self, tmp_path):
        # an acceptance nothing needs would pass a later raise of that joint's limit unseen
        spec, _ = _spec_with_torque(tmp_path, "a", 3.0)
        item = check_limits(_accepting(tmp_path, spec, ["a"]))
        assert item.status == "fail"
        assert (
            "a: in safety.torque_above_model, but its torque limit 3 N m is not above the model's"
            in item.evidence
        )

    def test_a_joint_that_is_not_actuated_is_one_error_line(self, tmp_path):
        spec, _ = _spec_with_torque(tmp_path, "a", 3.0)
        for joints, match in (
            (["c"], "'c' is not an actuated joint"),
            ("a", "must be a list of joint names"),
        ):
            with pytest.raises(SpecError, match=match) as err:
                _accepting(tmp_path, spec, joints)
            assert "\n" not in str(err.value)


class TestTorqueAboveTheRobotsWeight:
    """example-robot-data's Solo and Bolt state 1,000 N m on a 1.3 and a 0.6 kg robot: the model's own
    actuator allows it, so the item passed, and the torque clamp and the collision thresholds built from
    those limits could never act (safety review 9, finding 6)."""

    def _placeholder(self, tmp_path, accept=()):
        (tmp_path / "arm.xml").write_text(ARM.replace('forcerange="-10 10"', 'forcerange="-1000 1000"'))
        spec, _ = init_robot(tmp_path / "arm.xml", tmp_path / "robot.yaml")  # b: 1000 N m on a 2 kg arm
        raw = yaml.safe_load(spec.path.read_text())
        raw["safety"]["torque_above_weight"] = list(accept)
        (tmp_path / "weight.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
        return load_robot(str(tmp_path / "weight.yaml"))

    def test_a_placeholder_effort_fails_naming_the_joint_and_the_fix(self, tmp_path):
        item = check_limits(self._placeholder(tmp_path))
        assert item.status == "fail"
        assert item.evidence.startswith("torque limits over 10x what the robot's weight asks of a joint (b 1000 (255x);")
        assert "robot init --torque-limit" in item.evidence and "safety.torque_above_weight" in item.evidence
        assert "(b 1000 (255x);" in item.evidence and " a 3" not in item.evidence  # a: 3 N m, within it

    def test_a_listed_joint_passes_and_is_named(self, tmp_path):
        item = check_limits(self._placeholder(tmp_path, ["b"]))
        assert item.status == "pass", item.evidence
        assert item.evidence.endswith("torque limits over 10x the robot's weight scale accepted (safety.torque_above_weight): b 255x")

    def test_a_listed_joint_within_it_fails(self, tmp_path):
        item = check_limits(self._placeholder(tmp_path, ["a", "b"]))
        assert item.status == "fail"
        assert "a: in safety.torque_above_weight, but its torque limit 3 is not above 10 x its weight scale 3.92" in item.evidence

    def test_a_scene_around_the_robot_does_not_raise_its_weight_scale(self, tmp_path):
        """The scale is the robot's own mass and extent: a 40 m terrain box beside the arm made the
        model's ``stat.extent`` 200 times the arm's, and the placeholder passed (safety review 10)."""
        terrain = '<geom name="terrain" type="box" size="20 20 0.1" pos="0 0 -2"/><body>'
        (tmp_path / "arm.xml").write_text(
            ARM.replace('forcerange="-10 10"', 'forcerange="-1000 1000"').replace("<body>", terrain, 1)
        )
        spec, _ = init_robot(tmp_path / "arm.xml", tmp_path / "robot.yaml")
        item = check_limits(spec)
        assert item.status == "fail" and "(b 1000 (255x);" in item.evidence

    def test_the_embedded_robots_pass(self):
        for name in ("pendulum", "furuta", "quadruped"):
            assert check_limits(load_robot(name)).status == "pass", name
