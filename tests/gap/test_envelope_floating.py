"""Transfer envelope of a floating-base robot: the quadruped judged on the twin's true base state,
with a fixed velocity command, by its task's own termination and success terms."""

from __future__ import annotations

import json

import mujoco
import numpy as np
import pytest

from sim2real.cli import main
from sim2real.errors import Sim2RealError
from sim2real.gap.envelope import (
    DEFAULT_VELOCITY_COMMAND,
    EnvelopeConfig,
    evaluate_envelope,
    resolve_velocity_command,
)
from sim2real.real.twin import TwinRobot
from sim2real.robots import load_robot
from sim2real.tasks import get_task
from sim2real.tasks.observations import quat_rotate_inverse

STAND = (0.0, 0.0, 0.0)
"""Zero velocity command: the stand-in policy holding the default pose tracks it by standing."""


@pytest.fixture(scope="module")
def quadruped():
    return load_robot("quadruped")


@pytest.fixture(scope="module")
def stand_policy(quadruped, tmp_path_factory):
    """A policy with zero gain: zero action, i.e. PD targets at the default pose."""
    from sim2real.policy.linear import write_linear_policy

    return write_linear_policy(quadruped, tmp_path_factory.mktemp("floating") / "stand.onnx")


class TestBaseState:
    def test_standing_twin_reports_height_orientation_and_rest(self, quadruped):
        twin = TwinRobot(quadruped)
        base = twin.base_state()
        assert base.position.shape == (3,) and base.quat.shape == (4,)
        assert 0.2 < base.height < 0.5
        np.testing.assert_allclose(np.linalg.norm(base.quat), 1.0)
        np.testing.assert_allclose(base.lin_vel, 0.0, atol=1e-9)
        np.testing.assert_allclose(base.ang_vel, 0.0, atol=1e-9)

    def test_linear_velocity_is_rotated_into_the_base_frame(self, quadruped):
        twin = TwinRobot(quadruped)
        quat = np.array([np.cos(0.4), 0.0, 0.0, np.sin(0.4)])  # 0.8 rad of yaw
        twin.set_state(base_quat=quat)
        assert twin.model.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE
        adr = int(twin.model.jnt_dofadr[0])
        twin.data.qvel[adr : adr + 6] = [1.0, 0.5, -0.2, 0.1, 0.2, 0.3]
        base = twin.base_state()
        np.testing.assert_allclose(base.lin_vel_world, [1.0, 0.5, -0.2])
        expected = quat_rotate_inverse(quat[None], np.array([1.0, 0.5, -0.2]))[0]
        np.testing.assert_allclose(base.lin_vel, expected, atol=1e-12)
        np.testing.assert_allclose(base.ang_vel, [0.1, 0.2, 0.3])

    def test_a_fixed_base_robot_has_none(self):
        with pytest.raises(Sim2RealError, match="no floating base"):
            TwinRobot(load_robot("pendulum")).base_state()


class TestVelocityCommand:
    def test_velocity_tasks_default_to_walking_forward(self):
        assert resolve_velocity_command(get_task("quadruped"), None) == DEFAULT_VELOCITY_COMMAND
        assert resolve_velocity_command(get_task("quadruped"), (0, 0, 0.5)) == (0.0, 0.0, 0.5)

    def test_other_tasks_take_none(self):
        assert resolve_velocity_command(get_task("pendulum"), None) is None
        with pytest.raises(Sim2RealError, match="no velocity command"):
            resolve_velocity_command(get_task("pendulum"), (0.5, 0, 0))

    def test_config_checks_the_command(self):
        with pytest.raises(Sim2RealError, match="three finite"):
            EnvelopeConfig(velocity_command=(0.5, 0.0))  # type: ignore[arg-type]


class TestFloatingEnvelope:
    def test_standing_succeeds_and_a_weak_robot_falls(self, quadruped, stand_policy):
        result = evaluate_envelope(
            quadruped,
            stand_policy,
            "actuator.*.strength=0.05:1:2",
            config=EnvelopeConfig(episodes=1, workers=1, episode_s=1.5, velocity_command=STAND),
        )
        # 5 % of its motors cannot carry the body: it collapses (a termination or a safety stop)
        assert not result.successes[0, 0] and result.reasons[0, 0] != "rule not met"
        assert result.successes[1, 0] and result.reasons[1, 0] == "success"
        assert result.velocity_command == STAND

    def test_standing_does_not_track_a_forward_command(self, quadruped, stand_policy):
        result = evaluate_envelope(
            quadruped,
            stand_policy,
            "actuator.*.strength=1:1:1",
            config=EnvelopeConfig(episodes=1, workers=1, episode_s=1.0),
        )
        assert result.velocity_command == DEFAULT_VELOCITY_COMMAND
        assert result.reasons.ravel().tolist() == ["rule not met"]


class TestFloatingCommand:
    def test_the_issues_grid_runs(self, capsys, stand_policy, tmp_path):
        report = tmp_path / "envelope.html"
        code = main(
            [
                "envelope",
                "--robot",
                "quadruped",
                "--policy",
                str(stand_policy),
                "--grid",
                "actuator.*.delay=0:0.03:2,geom.floor.friction=0.3:1.5:2",
                "--episodes",
                "1",
                "--episode-s",
                "0.5",
                "--workers",
                "1",
                "--velocity-command",
                "0",
                "0",
                "0",
                "--report",
                str(report),
                "--json",
            ]
        )
        out, err = capsys.readouterr()
        assert code == 0
        summary = json.loads(out)
        assert np.asarray(summary["success_rate"]).shape == (2, 2)
        assert summary["velocity_command"] == [0.0, 0.0, 0.0]
        assert [a["name"] for a in summary["axes"]] == ["actuator.*.delay", "geom.floor.friction"]
        assert "velocity command: vx 0 m/s" in err
        assert "velocity command vx 0 m/s" in report.read_text()

    def test_a_command_for_a_task_without_one_is_one_error_line(self, capsys, tmp_path):
        from gap_testdata import balance_policy

        policy = balance_policy(tmp_path / "balance.onnx")
        args = [
            "envelope",
            "--robot",
            "pendulum",
            "--policy",
            str(policy),
            "--grid",
            "body.pole.mass=0.5:1:2",
        ]
        code = main([*args, "--workers", "1", "--velocity-command", "0.5", "0", "0"])
        out, err = capsys.readouterr()
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 1 and out == ""
        assert (
            len(lines) == 1 and lines[0].startswith("sim2real: error:") and "no velocity command" in lines[0]
        )
