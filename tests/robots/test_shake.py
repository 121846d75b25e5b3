"""The shake check of robot init: does the simulation stay finite under an untrained policy's commands?"""

from __future__ import annotations

from pathlib import Path

from sim2real.robots import load_robot
from sim2real.robots.init import InitOptions, init_robot
from sim2real.robots.shake import shake


def _arm(path: Path) -> Path:
    """A fixed-base arm whose wrist (about x) and finger (about y) carry 10 g each, a 1 kg upper arm."""
    path.write_text(
        "<mujoco><compiler angle='radian'/><worldbody>"
        "<body name='upper'><joint name='shoulder' axis='0 1 0' range='-2 2'/>"
        "<geom type='capsule' fromto='0 0 0 0.3 0 0' size='0.02' mass='1'/>"
        "<body name='hand' pos='0.3 0 0'><joint name='wrist' axis='1 0 0' range='-2 2'/>"
        "<geom type='sphere' size='0.01' mass='0.01'/>"
        "<body name='finger'><joint name='finger' axis='0 1 0' range='-2 2'/>"
        "<geom type='capsule' fromto='0 0 0 0.02 0 0' size='0.005' mass='0.01'/></body></body></body>"
        "</worldbody></mujoco>"
    )
    return path


class TestShake:
    def test_a_light_joint_with_a_legs_gains_diverges_and_init_says_what_to_do(self, tmp_path):
        """example-robot-data's G1 with kp 100, kd 2 and no armature: its standing check passed, then
        training's episodes returned -7e7 (MuJoCo reset them 0.22 s into random commands)."""
        options = InitOptions(kp=100.0, kd=2.0, torque_limit=50.0)
        spec, result = init_robot(_arm(tmp_path / "arm.xml"), tmp_path / "robot.yaml", options)
        shaken = shake(spec)
        assert shaken is not None and shaken.joint in ("wrist", "finger") and shaken.time < 1.0
        lines = [line for line in result.check if "under an untrained policy's commands" in line]
        assert len(lines) == 1 and f"({shaken.joint} at" in lines[0] and "--armature" in lines[0]
        with_armature = InitOptions(kp=100.0, kd=2.0, torque_limit=50.0, armature=0.01)
        spec, result = init_robot(_arm(tmp_path / "arm.xml"), tmp_path / "b" / "robot.yaml", with_armature)
        assert shake(spec) is None
        assert not any("under an untrained policy's commands" in line for line in result.check)

    def test_the_embedded_quadruped_stays_finite_and_the_seed_decides_the_commands(self):
        spec = load_robot("quadruped")
        assert shake(spec, seed=0) is None and shake(spec, seed=1) is None
