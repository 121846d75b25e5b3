"""The embedded quadruped with its IMU on a board turned on the base (tests of the IMU's mount)."""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from sim2real.robots import DATA_DIR, load_robot
from sim2real.robots.spec import RobotSpec

BASE_ANCHOR = '<body name="base" pos="0 0 0.34">'


def turned_imu_quadruped(
    tmp_path: Path, roll_deg: float, pitch_deg: float = 0.0, yaw_deg: float = 0.0
) -> RobotSpec:
    """The quadruped with its IMU site on a board 5 cm ahead of the base origin, turned by the
    given Euler angles (MuJoCo's default xyz order) [deg]."""
    xml = (DATA_DIR / "quadruped.xml").read_text()
    euler = " ".join(str(math.radians(a)) for a in (roll_deg, pitch_deg, yaw_deg))
    board = f'<body name="imu_board" pos="0.05 0.02 0.03" euler="{euler}"><site name="board_imu"/></body>'
    assert BASE_ANCHOR in xml
    (tmp_path / "quadruped.xml").write_text(xml.replace(BASE_ANCHOR, BASE_ANCHOR + board, 1))
    raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
    raw["name"], raw["mjcf"] = "quadruped_turned_imu", str(tmp_path / "quadruped.xml")
    raw["sensors"]["imu"]["site"] = "board_imu"
    (tmp_path / "robot.yaml").write_text(yaml.safe_dump(raw))
    return load_robot(str(tmp_path / "robot.yaml"))


def loose_imu_quadruped(tmp_path: Path) -> RobotSpec:
    """The quadruped with its IMU site on a gimbal: a body that turns against the base on a joint."""
    xml = (DATA_DIR / "quadruped.xml").read_text()
    gimbal = (
        '<body name="gimbal" pos="0 0 0.05"><joint name="gimbal" axis="1 0 0"/>'
        '<geom size="0.01" mass="0.01" contype="0" conaffinity="0"/><site name="loose_imu"/></body>'
    )
    (tmp_path / "quadruped.xml").write_text(xml.replace(BASE_ANCHOR, BASE_ANCHOR + gimbal, 1))
    raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
    raw["name"], raw["mjcf"] = "quadruped_loose_imu", str(tmp_path / "quadruped.xml")
    raw["sensors"]["imu"]["site"] = "loose_imu"
    (tmp_path / "robot.yaml").write_text(yaml.safe_dump(raw))
    return load_robot(str(tmp_path / "robot.yaml"))
