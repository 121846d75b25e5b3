"""A rough-terrain policy (it observes a terrain height scan) on a ROS 2 robot, which reads no
terrain: the deployment loop and the preflight checklist refuse it in one line."""

from __future__ import annotations

import dataclasses

import pytest

pytest.importorskip("rclpy", reason="needs the ros2 extra (pip install 'sim2real[ros2]')")

from ros2_testing import topics

from sim2real.deploy.loop_build import build_loop
from sim2real.deploy.preflight import run_preflight
from sim2real.errors import Sim2RealError
from sim2real.policy.linear import write_linear_policy
from sim2real.real.ros2 import Ros2Robot
from sim2real.robots import load_robot
from sim2real.robots.spec import ObservationTerm

SCAN = ObservationTerm(
    "height_scan",
    6,
    clip=(-1.0, 1.0),
    params={"points_x": [-0.1, 0.0, 0.1], "points_y": [-0.1, 0.1], "order": "xy", "offset": 0.5},
)


@pytest.fixture
def rough(tmp_path):
    quadruped = load_robot("quadruped")
    spec = dataclasses.replace(quadruped, observation=(*quadruped.observation, SCAN))
    return spec, write_linear_policy(spec, tmp_path / "rough.onnx")


def test_the_deployment_loop_and_the_preflight_refuse_a_policy_that_observes_a_height_scan(rough):
    spec, policy = rough
    robot = Ros2Robot(spec, topics())
    try:
        assert not getattr(robot, "gives_height_scan", False)
        with pytest.raises(
            Sim2RealError, match="observes a terrain height scan, which this robot does not give"
        ):
            build_loop(spec, robot, policy)
        with pytest.raises(
            Sim2RealError, match="observes a terrain height scan, which this robot does not give"
        ):
            run_preflight(spec, robot, policy, target="robot", confirm_perimeter=True)
    finally:
        robot.close()
