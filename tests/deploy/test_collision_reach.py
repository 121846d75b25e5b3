"""The force the collision observer needs on a link, and whether a push that hard throws it:
placeholder torque limits (a URDF's effort="1000") make the observer blind, and preflight says so."""

from __future__ import annotations

import logging

import numpy as np
import yaml

from sim2real.deploy.collision import CollisionDetector
from sim2real.deploy.collision_reach import FORCE_MULTIPLE, MAX_SWING, blind_at_rest, push_problems
from sim2real.deploy.monitor import deployment_monitor
from sim2real.deploy.preflight import _Runner, check_hold_and_collision
from sim2real.deploy.record import fixed_base_spec
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots import DATA_DIR, load_robot


def _hung_quadruped(tmp_path, torque: float | None = None):
    """The embedded quadruped hung by its base, with every torque limit ``torque`` [N m] (None: its own)."""
    raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
    raw["name"], raw["mjcf"] = "quadruped_reach", str(DATA_DIR / "quadruped.xml")
    if torque is not None:
        raw["safety"]["joint_torque"] = {j: torque for j in raw["joints"]}
        for actuator in raw["actuators"].values():
            actuator["torque_limit"] = torque
    (tmp_path / "robot.yaml").write_text(yaml.safe_dump(raw))
    spec = fixed_base_spec(load_robot(str(tmp_path / "robot.yaml")))
    return spec, TwinRobot(
        spec, TwinConfig(effects=TwinEffects(seed=1, drop_probability=0.0)), fixed_base=True
    )


class TestPushProblems:
    def test_placeholder_limits_name_each_leg_the_force_and_the_fix(self, tmp_path):
        spec, twin = _hung_quadruped(tmp_path, 1000.0)
        problems = push_problems(CollisionDetector(spec), twin.read())
        assert sorted(p.split(":")[0] for p in problems) == ["FL_calf", "FR_calf", "RL_calf", "RR_calf"], (
            problems
        )
        line = problems[0]
        newtons = float(line.split("needs ")[1].split(" N")[0])
        weight = float(np.sum(twin.model.body_mass)) * 9.81
        assert newtons > FORCE_MULTIPLE * weight, line
        assert (
            f"at most {MAX_SWING} rad" in line
            and "torque limit 1000 N m" in line
            and "safety.joint_torque" in line
        )

    def test_the_robots_own_limits_are_within_reach(self, tmp_path):
        spec, twin = _hung_quadruped(tmp_path)
        assert push_problems(CollisionDetector(spec), twin.read()) == []


class TestPreflightItem:
    def test_the_collision_item_fails_on_a_blind_observer(self, tmp_path):
        """Before: it passed (quiet, and the 2 x threshold torques fired) with 1000 N m limits."""
        spec, twin = _hung_quadruped(tmp_path, 1000.0)
        hold, item = check_hold_and_collision(_Runner(spec, twin, False, twin.reset, fixed_base=True))
        assert hold.status == "pass" and item.status == "fail", (hold.evidence, item.evidence)
        assert (
            "blind to pushes short of a throw: " in item.evidence
            and "_calf: the observer needs" in item.evidence
        )
        assert (
            item.figures["blind_links"] == 4 and item.figures["fired"] == item.figures["exercised_joints"] > 0
        )


class TestBlindAtRest:
    def _held_and_standing(self, tmp_path):
        """The quadruped whose expected contacts are its base (a stand's) and its four feet: 6 + 4 x 3
        columns explain its 18 degrees of freedom (as HyQ's four feet, each a force and a torque, did)."""
        raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
        raw["name"], raw["mjcf"] = "quadruped_all_explained", str(DATA_DIR / "quadruped.xml")
        feet = ["FL_calf", "FR_calf", "RL_calf", "RR_calf"]
        raw["safety"]["collision"] = {"contacts": [raw["base_body"], *feet]}
        (tmp_path / "robot.yaml").write_text(yaml.safe_dump(raw))
        return load_robot(str(tmp_path / "robot.yaml"))

    def test_feet_that_explain_everything_are_said_once_as_an_error(self, tmp_path, caplog):
        spec = self._held_and_standing(tmp_path)
        why = blind_at_rest(CollisionDetector(spec))
        assert (
            why is not None and "explain every external force" in why and "safety.collision.contacts" in why
        )
        with caplog.at_level(logging.ERROR, logger="sim2real.deploy.monitor"):
            deployment_monitor(spec)
            deployment_monitor(spec)
        assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [why]

    def test_point_feet_leave_the_trunk_visible(self, quadruped):
        assert blind_at_rest(CollisionDetector(quadruped)) is None
