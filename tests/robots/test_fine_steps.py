"""How fine a step held torques need, and robot init's check of a safe-mode damping a light joint cannot take."""

from __future__ import annotations

import dataclasses

import numpy as np

from sim2real.robots.fine_steps import DAMPING_LIMIT, largest_step, steps_needed
from sim2real.robots.init import InitOptions, init_robot

ARM = """<mujoco><worldbody><body name='upper'><joint name='shoulder' axis='0 1 0' range='-2 2'/>
<geom type='capsule' fromto='0 0 0 0 0 -0.3' size='0.03' mass='2'/>
<body name='hand' pos='0 0 -0.3'><joint name='wrist' axis='0 0 1' range='-2 2'/>
<geom type='sphere' size='0.02' mass='0.05'/></body></body></worldbody></mujoco>"""


class TestLargestStep:
    def test_damping_and_stiffness_bound_the_step(self):
        h = largest_step(np.array([0.01, 0.01, 0.01]), np.array([0.0, 100.0, 0.0]), np.array([1.0, 0.0, 0.0]))
        assert h[0] == DAMPING_LIMIT * 0.01 / 1.0 and h[1] == 0.5 / 100.0 and h[2] > 1e100
        assert steps_needed(0.005, h) == 1 and steps_needed(0.005, np.array([0.001])) == 5
        assert steps_needed(0.005, np.array([np.inf])) == 1


class TestDampingCheck:
    def test_each_joint_gets_its_own_kd_as_safe_mode_damping_so_a_light_wrist_is_no_problem(self, tmp_path):
        # one gain for all (the shoulder's 5) was more than the wrist (8e-6 kg m^2) can take
        (tmp_path / "arm.xml").write_text(ARM)
        options = InitOptions(kp={"shoulder": 200.0, "wrist": 2.0}, kd={"shoulder": 5.0, "wrist": 0.01}, torque_limit=50.0)
        spec, result = init_robot(tmp_path / "arm.xml", tmp_path / "robot.yaml", options)
        assert dict(zip(spec.joints, spec.safety.damping, strict=True)) == {"shoulder": 5.0, "wrist": 0.01}
        assert not any(c.startswith("safety.damping") for c in result.check)

    def test_a_safe_mode_damping_a_light_joint_cannot_take_is_named_under_check(self, tmp_path):
        (tmp_path / "arm.xml").write_text(ARM)
        options = InitOptions(kp=200.0, kd=5.0, torque_limit=50.0)  # the wrist's own kd is 5 too
        _, result = init_robot(tmp_path / "arm.xml", tmp_path / "robot.yaml", options)
        (line,) = [c for c in result.check if c.startswith("safety.damping")]
        assert "safety.damping 5 (safe mode's damping of wrist) is more than that light joint" in line
        assert "give the joints armature (--armature) or lower safety.damping (at most" in line
        _, armed = init_robot(tmp_path / "arm.xml", tmp_path / "armed.yaml", dataclasses.replace(options, armature=0.01))
        assert not any(c.startswith("safety.damping") for c in armed.check)

    def test_pd_gains_a_light_joint_cannot_take_are_named_under_check(self, tmp_path):
        """example-robot-data's Romeo, kp 200 and kd 5 on a 0.00039 kg m^2 wrist: init said nothing, and deploy,
        record and faults stopped at 'the twin cannot compute RWristRoll's torque itself'."""
        (tmp_path / "arm.xml").write_text(ARM)
        options = InitOptions(kp=400.0, kd={"shoulder": 5.0, "wrist": 0.01}, torque_limit=50.0)
        _, result = init_robot(tmp_path / "arm.xml", tmp_path / "robot.yaml", options)
        (line,) = [c for c in result.check if c.startswith("kp ")]
        assert line.startswith("kp 400, kd 0.01 on wrist (") and "(1 joints: wrist)" in line and "--armature" in line
        assert not any(c.startswith("safety.damping") for c in result.check)  # its own kd is light enough
        _, armed = init_robot(tmp_path / "arm.xml", tmp_path / "armed.yaml", dataclasses.replace(options, armature=0.01))
        assert not any(c.startswith("kp ") for c in armed.check)
