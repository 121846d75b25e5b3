"""Where `robot init` puts a floating base's IMU: the model's own site on the base or on a body welded
to it, else an added site under a name the model does not use."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim2real.errors import SpecError
from sim2real.robots import load_spec
from sim2real.robots.init import InitOptions, init_robot
from sim2real.robots.model import build_model

GAINS = InitOptions(kp=20.0, kd=0.5, torque_limit=20.0)


def _biped(tmp_path, base_extra: str = "", leg_extra: str = "") -> str:
    legs = "".join(
        f"<body name='{side}_leg' pos='0 {y} -0.05'><joint name='{side}_hip' axis='0 1 0' range='-1 1'/>{leg_extra if side == 'left' else ''}"
        "<geom type='capsule' fromto='0 0 0 0 0 -0.3' size='0.03' mass='1'/>"
        f"<body name='{side}_foot' pos='0 0 -0.3'><joint name='{side}_knee' axis='0 1 0' range='-1 1'/>"
        "<geom type='sphere' size='0.04' mass='0.2'/></body></body>"
        for side, y in (("left", 0.1), ("right", -0.1))
    )
    path = tmp_path / "biped.xml"
    path.write_text(
        "<mujoco><worldbody><geom name='floor' type='plane' size='5 5 0.1'/>"
        f"<body name='torso' pos='0 0 0.45'><freejoint/><geom type='box' size='0.1 0.15 0.05' mass='5'/>{base_extra}{legs}"
        "</body></worldbody></mujoco>"
    )
    return str(path)


class TestImuSite:
    def test_a_site_on_a_board_welded_to_the_base_is_taken(self, tmp_path):
        board = "<body name='imu_link' pos='0 0 0.06'><site name='imu_sensor'/></body><site name='marker'/>"
        spec, result = init_robot(_biped(tmp_path, base_extra=board), tmp_path / "robot.yaml", GAINS)
        assert spec.imu is not None and spec.imu.site == "imu_sensor"
        assert "IMU on site 'imu_sensor' of body 'imu_link', welded to the base" in result.inferred
        assert not any("adds site" in line for line in spec.overrides)

    def test_an_imu_site_on_a_moving_link_gets_an_added_site_under_another_name(self, tmp_path):
        # Menagerie's G1: its site 'imu' is on the torso link, above the waist joints, not on the pelvis
        model = _biped(tmp_path, leg_extra="<site name='imu'/>")
        spec, result = init_robot(model, tmp_path / "robot.yaml", GAINS)
        assert spec.imu is not None and spec.imu.site == "torso_imu"
        assert any("the model's IMU sites (imu) are not on the base body" in c for c in result.check)
        loaded = load_spec(tmp_path / "robot.yaml")
        compiled = build_model(loaded)
        site = compiled.site("torso_imu")
        assert compiled.body(int(site.bodyid[0])).name == "torso" and loaded.hash == spec.hash

    def test_choosing_a_site_that_moves_against_the_base_is_one_clear_error(self, tmp_path):
        model = _biped(tmp_path, leg_extra="<site name='imu'/>")
        options = InitOptions(kp=20.0, kd=0.5, torque_limit=20.0, imu_site="imu")
        with pytest.raises(SpecError, match="IMU site 'imu' is on body 'left_leg', which moves against the base body 'torso'"):
            init_robot(model, tmp_path / "robot.yaml", options)

    def test_the_site_the_models_own_imu_sensors_use_wins_over_a_turned_marker(self, tmp_path):
        # dm_control's quadruped: its torso carries eye sites (turned 90 degrees) before the site
        # 'torso' its gyro and accelerometer use; the first site was taken, and deploy saw 90 degrees of tilt
        sites = "<site name='pupil_r' pos='0.1 -0.05 0' zaxis='1 0 0'/><site name='torso'/>"
        path = Path(_biped(tmp_path, base_extra=sites))
        sensors = "<sensor><gyro name='imu_gyro' site='torso'/><accelerometer name='imu_acc' site='torso'/></sensor>"
        path.write_text(path.read_text().replace("</worldbody>", "</worldbody>" + sensors))
        spec, _ = init_robot(path, tmp_path / "robot.yaml", GAINS)
        assert spec.imu is not None and spec.imu.site == "torso"

    def test_without_sensors_a_site_square_to_the_base_wins_over_a_turned_one(self, tmp_path):
        sites = "<site name='eye' zaxis='1 0 0'/><site name='centre'/>"
        spec, _ = init_robot(_biped(tmp_path, base_extra=sites), tmp_path / "robot.yaml", GAINS)
        assert spec.imu is not None and spec.imu.site == "centre"
