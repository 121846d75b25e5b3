"""A biped made by `robot init` whose soles are four small spheres at each foot's corners
(Menagerie's G1 stands on such soles): shared by the collision observer's and the locomotion
task's tests."""

from __future__ import annotations

from pathlib import Path

from sim2real.robots.init import InitOptions, init_robot
from sim2real.robots.spec import RobotSpec


def four_sphere_biped(tmp_path: Path) -> RobotSpec:
    """A biped whose soles are four small spheres at each foot's corners (Menagerie's G1), made by
    robot init."""
    sole = "".join(
        f"<geom type='sphere' size='0.003' pos='{x} {y} -0.043'/>"
        for x in (0.09, -0.05)
        for y in (0.035, -0.035)
    )
    legs = "".join(
        f"<body name='{s}_thigh' pos='0 {y} -0.05'><joint name='{s}_hip_roll' axis='1 0 0' range='-0.5 0.5'/>"
        f"<joint name='{s}_hip_pitch' axis='0 1 0' range='-1 1'/><geom type='capsule' fromto='0 0 0 0 0 -0.25' size='0.03' mass='1.5'/>"
        f"<body name='{s}_shin' pos='0 0 -0.25'><joint name='{s}_knee' axis='0 1 0' range='-0.2 2'/>"
        "<geom type='capsule' fromto='0 0 0 0 0 -0.25' size='0.025' mass='1'/>"
        f"<body name='{s}_foot' pos='0 0 -0.25'><joint name='{s}_ankle_pitch' axis='0 1 0' range='-1 1'/>"
        f"<joint name='{s}_ankle_roll' axis='1 0 0' range='-0.5 0.5'/>"
        f"<geom type='box' size='0.08 0.04 0.01' pos='0.02 0 -0.03' contype='0' conaffinity='0' mass='0.4'/>{sole}</body></body></body>"
        for s, y in (("left", 0.1), ("right", -0.1))
    )
    (tmp_path / "biped.xml").write_text(
        "<mujoco><compiler angle='radian'/><worldbody><geom name='floor' type='plane' size='5 5 0.1'/>"
        "<body name='torso' pos='0 0 0.6'><freejoint/><geom type='box' size='0.1 0.15 0.08' pos='0.04 0.02 0' mass='8'/>"
        f"<site name='imu'/>{legs}</body></worldbody></mujoco>"
    )
    spec, _ = init_robot(
        tmp_path / "biped.xml", tmp_path / "robot.yaml", InitOptions(kp=150.0, kd=3.0, torque_limit=150.0)
    )
    return spec
